"""UBL 2.1 (Peppol BIS Billing 3.0, EN 16931): Invoice and CreditNote into canonical invoices,
Peppol Order Response into canonical acknowledgments."""

from __future__ import annotations

from typing import Any

from lxml import etree

from app.formats.base import Kind, RawDocument, bank_account_id, prune, scheme_id, unique
from app.formats.errors import EnvelopeError, not_accepted
from app.formats.xml_safety import local_name, namespace, parse_xml

VERSION = "ubl-1.1.0"

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
UBL_NAMESPACE_PREFIX = "urn:oasis:names:specification:ubl:schema:xsd:"
ROOT_KINDS: dict[str, Kind] = {
    "Invoice": "invoice",
    "CreditNote": "invoice",
    "OrderResponse": "acknowledgment",
}
# UNCL1001 invoice type codes that mean "this credits an earlier invoice".
CREDIT_TYPE_CODES = {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
# Peppol Order Response: UNCL1225 subset at header level, UNCL1229 subset per line.
HEADER_STATUS = {"AP": "accepted", "RE": "rejected", "CA": "accepted_with_changes"}
LINE_STATUS = {"1": "change", "3": "change", "5": "accept", "7": "reject", "42": "reject"}
LINE_STATUS_REASON = {"1": "line added by supplier", "42": "already delivered"}


def is_ubl(root: etree._Element) -> bool:
    return (namespace(root) or "").startswith(UBL_NAMESPACE_PREFIX)


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path, NS)
    return found.text if found is not None else None


def _texts(element: etree._Element, path: str) -> list[str]:
    return [found.text for found in element.findall(path, NS) if found.text]


def _scheme_id(element: etree._Element | None, scheme: str | None = None) -> dict | None:
    if element is None:
        return None
    return scheme_id(element.get("schemeID") or scheme, element.text)


def _address(element: etree._Element | None) -> dict | None:
    if element is None:
        return None
    lines = [_text(element, "cbc:StreetName"), _text(element, "cbc:AdditionalStreetName")]
    return {
        "lines": lines + _texts(element, "cac:AddressLine/cbc:Line"),
        "city": _text(element, "cbc:CityName"),
        "postal_code": _text(element, "cbc:PostalZone"),
        "region": _text(element, "cbc:CountrySubentity"),
        "country": _text(element, "cac:Country/cbc:IdentificationCode"),
    }


def _tax_ids(party: etree._Element) -> list[dict]:
    return [
        {"scheme": _text(scheme, "cac:TaxScheme/cbc:ID"), "value": _text(scheme, "cbc:CompanyID")}
        for scheme in party.findall("cac:PartyTaxScheme", NS)
    ]


def _identifiers(party: etree._Element) -> list[dict | None]:
    return [
        _scheme_id(party.find("cbc:EndpointID", NS)),
        *(_scheme_id(found) for found in party.findall("cac:PartyIdentification/cbc:ID", NS)),
        _scheme_id(party.find("cac:PartyLegalEntity/cbc:CompanyID", NS), "legal"),
    ]


def _party(party: etree._Element | None) -> dict | None:
    if party is None:
        return None
    return {
        "name": _text(party, "cac:PartyName/cbc:Name"),
        "legal_name": _text(party, "cac:PartyLegalEntity/cbc:RegistrationName"),
        "identifiers": unique(_identifiers(party)),
        "tax_ids": _tax_ids(party),
        "addresses": [_address(party.find("cac:PostalAddress", NS))],
        "contact": {
            "name": _text(party, "cac:Contact/cbc:Name"),
            "phone": _text(party, "cac:Contact/cbc:Telephone"),
            "email": _text(party, "cac:Contact/cbc:ElectronicMail"),
        },
    }


def _delivery_party(root: etree._Element) -> dict | None:
    delivery = root.find("cac:Delivery", NS)
    if delivery is None:
        return None
    location = delivery.find("cac:DeliveryLocation", NS)
    return {
        "name": _text(delivery, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
        "identifiers": [_scheme_id(location.find("cbc:ID", NS))] if location is not None else [],
        "addresses": [_address(location.find("cac:Address", NS))] if location is not None else [],
    }


def _remit_to(root: etree._Element) -> dict | None:
    account = root.find("cac:PaymentMeans/cac:PayeeFinancialAccount", NS)
    if account is None:
        return None
    return {
        **bank_account_id(_text(account, "cbc:ID")),
        "account_name": _text(account, "cbc:Name"),
        "bic": _text(account, "cac:FinancialInstitutionBranch/cbc:ID"),
    }


def _allowance_charge(element: etree._Element) -> dict:
    indicator = (_text(element, "cbc:ChargeIndicator") or "").strip().lower()
    return {
        # An unreadable indicator is kept as-is so validation names it instead of guessing.
        "is_charge": {"true": True, "false": False}.get(indicator, indicator or None),
        "amount": _text(element, "cbc:Amount"),
        "reason": _text(element, "cbc:AllowanceChargeReason"),
        "reason_code": _text(element, "cbc:AllowanceChargeReasonCode"),
        "base_amount": _text(element, "cbc:BaseAmount"),
        "percent": _text(element, "cbc:MultiplierFactorNumeric"),
        "tax_category": _text(element, "cac:TaxCategory/cbc:ID"),
        "tax_rate": _text(element, "cac:TaxCategory/cbc:Percent"),
    }


def _document_tax_total(root: etree._Element, currency: str | None) -> etree._Element | None:
    """EN 16931 allows a second TaxTotal in the tax currency (BT-111); ours is the one in the
    document currency."""
    totals = root.findall("cac:TaxTotal", NS)
    for total in totals:
        amount = total.find("cbc:TaxAmount", NS)
        if amount is not None and amount.get("currencyID") == currency:
            return total
    return totals[0] if totals else None


def _tax_subtotal(element: etree._Element) -> dict:
    return {
        "taxable_amount": _text(element, "cbc:TaxableAmount"),
        "tax_amount": _text(element, "cbc:TaxAmount"),
        "category": _text(element, "cac:TaxCategory/cbc:ID"),
        "rate": _text(element, "cac:TaxCategory/cbc:Percent"),
        "exemption_reason": _text(element, "cac:TaxCategory/cbc:TaxExemptionReason"),
    }


def _totals(root: etree._Element, tax_total: etree._Element | None) -> dict:
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    return {
        "line_total": _text(monetary, "cbc:LineExtensionAmount"),
        "allowance_total": _text(monetary, "cbc:AllowanceTotalAmount"),
        "charge_total": _text(monetary, "cbc:ChargeTotalAmount"),
        "tax_exclusive": _text(monetary, "cbc:TaxExclusiveAmount"),
        "tax_total": _text(tax_total, "cbc:TaxAmount"),
        "tax_inclusive": _text(monetary, "cbc:TaxInclusiveAmount"),
        "prepaid": _text(monetary, "cbc:PrepaidAmount"),
        "payable": _text(monetary, "cbc:PayableAmount"),
    }


def _quantity(line: etree._Element) -> etree._Element | None:
    for path in ("cbc:InvoicedQuantity", "cbc:CreditedQuantity", "cbc:Quantity"):
        found = line.find(path, NS)
        if found is not None:
            return found
    return None


def _item_fields(item: etree._Element | None) -> dict:
    return {
        "description": _text(item, "cbc:Name") or _text(item, "cbc:Description"),
        "supplier_item_id": _text(item, "cac:SellersItemIdentification/cbc:ID"),
        "buyer_item_id": _text(item, "cac:BuyersItemIdentification/cbc:ID"),
        "standard_item_id": _text(item, "cac:StandardItemIdentification/cbc:ID"),
    }


def _invoice_line(line: etree._Element) -> dict:
    quantity = _quantity(line)
    item = line.find("cac:Item", NS)
    described = _text(item, "cbc:Description") if _text(item, "cbc:Name") else None
    return {
        "line_id": _text(line, "cbc:ID"),
        **_item_fields(item),
        "quantity": quantity.text if quantity is not None else None,
        "unit_code": quantity.get("unitCode") if quantity is not None else None,
        "unit_price": _text(line, "cac:Price/cbc:PriceAmount"),
        "price_base_quantity": _text(line, "cac:Price/cbc:BaseQuantity"),
        "line_extension_amount": _text(line, "cbc:LineExtensionAmount"),
        "tax_category": _text(item, "cac:ClassifiedTaxCategory/cbc:ID"),
        "tax_rate": _text(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
        "allowances_charges": [
            _allowance_charge(found) for found in line.findall("cac:AllowanceCharge", NS)
        ],
        "po_number": _text(line, "cac:OrderLineReference/cac:OrderReference/cbc:ID"),
        "po_line": _text(line, "cac:OrderLineReference/cbc:LineID"),
        "notes": [*_texts(line, "cbc:Note"), described],
    }


def _document_type(root: etree._Element) -> str:
    type_code = (_text(root, "cbc:InvoiceTypeCode") or "").strip()
    if local_name(root) == "CreditNote" or type_code in CREDIT_TYPE_CODES:
        return "credit_note"
    return "invoice"


def _invoice(root: etree._Element) -> dict[str, Any]:
    currency = _text(root, "cbc:DocumentCurrencyCode")
    tax_total = _document_tax_total(root, currency)
    line_tag = "cac:CreditNoteLine" if local_name(root) == "CreditNote" else "cac:InvoiceLine"
    return {
        "document_type": _document_type(root),
        "invoice_number": _text(root, "cbc:ID"),
        "issue_date": _text(root, "cbc:IssueDate"),
        "due_date": _text(root, "cbc:DueDate")
        or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate"),
        "tax_point_date": _text(root, "cbc:TaxPointDate"),
        "currency": currency,
        "specification_id": _text(root, "cbc:CustomizationID"),
        "supplier": _party(root.find("cac:AccountingSupplierParty/cac:Party", NS)),
        "buyer": _party(root.find("cac:AccountingCustomerParty/cac:Party", NS)),
        "ship_to": _delivery_party(root),
        "remit_to": _remit_to(root),
        "payment_terms": {"text": _text(root, "cac:PaymentTerms/cbc:Note")},
        "po_number": _text(root, "cac:OrderReference/cbc:ID"),
        "accounting_cost": _text(root, "cbc:AccountingCost"),
        "billing_references": _texts(
            root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
        ),
        "lines": [_invoice_line(line) for line in root.findall(line_tag, NS)],
        "allowances_charges": [
            _allowance_charge(found) for found in root.findall("cac:AllowanceCharge", NS)
        ],
        "tax_subtotals": [
            _tax_subtotal(found)
            for found in (tax_total.findall("cac:TaxSubtotal", NS) if tax_total is not None else [])
        ],
        "totals": _totals(root, tax_total),
        "notes": _texts(root, "cbc:Note"),
    }


def _period_start(element: etree._Element | None) -> str | None:
    return _text(element, "cac:PromisedDeliveryPeriod/cbc:StartDate") or _text(
        element, "cac:PromisedDeliveryPeriod/cbc:EndDate"
    )


def _substitute(order_line: etree._Element) -> str | None:
    item = order_line.find("cac:SellerSubstitutedLineItem/cac:Item", NS)
    return _text(item, "cac:SellersItemIdentification/cbc:ID") or _text(
        item, "cac:StandardItemIdentification/cbc:ID"
    )


def _ack_line(order_line: etree._Element) -> dict:
    line = order_line.find("cac:LineItem", NS)
    code = (_text(line, "cbc:LineStatusCode") or "").strip()
    quantity = _quantity(line) if line is not None else None
    return {
        "line_id": _text(line, "cbc:ID"),
        "po_line": _text(order_line, "cac:OrderLineReference/cbc:LineID"),
        "status": LINE_STATUS.get(code, code or None),
        "reason": LINE_STATUS_REASON.get(code),
        **_item_fields(line.find("cac:Item", NS) if line is not None else None),
        "substitute_item_id": _substitute(order_line),
        "unit_code": quantity.get("unitCode") if quantity is not None else None,
        # An order response repeats only what it confirms or changes, never the ordered values.
        "changed_quantity": quantity.text if quantity is not None else None,
        "changed_unit_price": _text(line, "cac:Price/cbc:PriceAmount"),
        "price_base_quantity": _text(line, "cac:Price/cbc:BaseQuantity"),
        "changed_delivery_date": _period_start(
            line.find("cac:Delivery", NS) if line is not None else None
        ),
        "notes": _texts(line, "cbc:Note") if line is not None else [],
    }


def _order_response(root: etree._Element) -> dict[str, Any]:
    code = (_text(root, "cbc:OrderResponseCode") or "").strip()
    status = HEADER_STATUS.get(code, code or None)
    notes = _texts(root, "cbc:Note")
    return {
        "ack_number": _text(root, "cbc:ID"),
        "po_number": _text(root, "cac:OrderReference/cbc:ID"),
        "issue_date": _text(root, "cbc:IssueDate"),
        "status": status,
        # Peppol has no header reason element; the note is where suppliers explain.
        "reason": " ".join(notes) if status != "accepted" else None,
        "currency": _text(root, "cbc:DocumentCurrencyCode"),
        "supplier": _party(root.find("cac:SellerSupplierParty/cac:Party", NS)),
        "buyer": _party(root.find("cac:BuyerCustomerParty/cac:Party", NS)),
        "promised_delivery_date": _period_start(root.find("cac:Delivery", NS)),
        "lines": [_ack_line(found) for found in root.findall("cac:OrderLine", NS)],
        "notes": notes,
    }


def parse_root(root: etree._Element, kind: Kind) -> list[RawDocument]:
    """Map an already safely parsed UBL root; a UBL document carries exactly one document."""
    name = local_name(root)
    if ROOT_KINDS.get(name) != kind:
        raise not_accepted(f"UBL {name}", kind, f"/{name}")
    data = _invoice(root) if kind == "invoice" else _order_response(root)
    identity = f"{name} {_text(root, 'cbc:ID') or '(no ID)'}"
    return [RawDocument(prune(data), identity)]


def parse(payload: bytes, kind: Kind) -> list[RawDocument]:
    root = parse_xml(payload)
    if not is_ubl(root):
        raise EnvelopeError(
            f"root element {local_name(root)} is not UBL 2.1", f"/{local_name(root)}"
        )
    documents = parse_root(root, kind)
    return [RawDocument(doc.data, doc.identity, (0, len(payload))) for doc in documents]
