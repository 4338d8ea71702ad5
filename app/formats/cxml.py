"""cXML 1.2: InvoiceDetailRequest into canonical invoices, ConfirmationRequest into canonical
acknowledgments. Everything else a cXML network sends is refused by name."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree

from app.formats.base import (
    Kind,
    RawDocument,
    add,
    bank_account_id,
    date_part,
    negate,
    prune,
    scheme_id,
    to_decimal,
)
from app.formats.errors import EnvelopeError, not_accepted
from app.formats.xml_safety import local_name, parse_xml

VERSION = "cxml-1.0.0"

REQUEST_KINDS: dict[str, Kind] = {
    "InvoiceDetailRequest": "invoice",
    "ConfirmationRequest": "acknowledgment",
}
CREDIT_PURPOSES = {"creditMemo", "lineLevelCreditMemo"}
SUPPLIER_ROLES = ("remitTo", "issuerOfInvoice", "from", "supplierCorporate", "soldFrom")
BUYER_ROLES = ("soldTo", "billTo", "buyerCorporate")
# IdReference domains that carry the supplier's tax registration or bank details.
TAX_DOMAINS = {"supplierTaxID": "TAX", "vatID": "VAT", "taxID": "TAX", "gstID": "GST"}
BANK_DOMAINS = {
    "ibanID": "iban",
    "swiftID": "bic",
    "bankRoutingID": "routing_number",
    "accountName": "account_name",
}
HEADER_STATUS = {
    "accept": "accepted",
    "reject": "rejected",
    "replace": "changed",
    "backordered": "accepted_with_changes",
    "except": "accepted_with_changes",
}
ITEM_STATUS = {"accept": "accept", "reject": "reject"}


def is_cxml(root: etree._Element) -> bool:
    return local_name(root) == "cXML"


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    return found.text if found is not None and found.text else None


def _attr(element: etree._Element | None, path: str, name: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    return found.get(name) if found is not None else None


def _money(element: etree._Element | None, path: str) -> str | None:
    """The amount in `path/Money`; an empty <Money/> counts as absent, as Coupa sends it."""
    return _text(element, f"{path}/Money")


def _credential(header: etree._Element | None, side: str) -> list[dict | None]:
    if header is None:
        return []
    return [
        scheme_id(credential.get("domain"), _text(credential, "Identity"))
        for credential in header.findall(f"{side}/Credential")
    ]


def _address(contact: etree._Element) -> dict | None:
    postal = contact.find("PostalAddress")
    if postal is None:
        return None
    return {
        "lines": [street.text for street in postal.findall("Street") if street.text],
        "city": _text(postal, "City"),
        "postal_code": _text(postal, "PostalCode"),
        "region": _text(postal, "State"),
        "country": _attr(postal, "Country", "isoCountryCode"),
    }


def _id_references(contact: etree._Element | None) -> dict[str, str]:
    """IdReferences sit beside the Contact in its InvoicePartner (and inside it in older DTDs)."""
    if contact is None:
        return {}
    parent = contact.getparent()
    scope = parent if parent is not None and local_name(parent) == "InvoicePartner" else contact
    return {ref.get("domain", ""): ref.get("identifier", "") for ref in scope.iter("IdReference")}


def _contact(partners: dict[str, etree._Element], roles: tuple[str, ...]) -> etree._Element | None:
    return next((partners[role] for role in roles if role in partners), None)


def _party(contact: etree._Element | None, credentials: list[dict | None]) -> dict:
    refs = _id_references(contact)
    return {
        "name": _text(contact, "Name"),
        "identifiers": [
            *credentials,
            scheme_id("addressID", contact.get("addressID") if contact is not None else None),
        ],
        "tax_ids": [scheme_id(scheme, refs.get(domain)) for domain, scheme in TAX_DOMAINS.items()],
        "erp_vendor_number": refs.get("vendorID") or refs.get("supplierID"),
        "addresses": [_address(contact)] if contact is not None else [],
    }


def _partners(header: etree._Element) -> dict[str, etree._Element]:
    contacts = header.findall("InvoicePartner/Contact") + header.findall(
        "InvoiceDetailShipping/Contact"
    )
    return {contact.get("role", ""): contact for contact in contacts}


def _remit_to(contact: etree._Element | None) -> dict | None:
    refs = _id_references(contact)
    if not refs:
        return None
    bank = {field: refs.get(domain) for domain, field in BANK_DOMAINS.items()}
    account = refs.get("accountID")
    return {**bank_account_id(account), **{key: value for key, value in bank.items() if value}}


def _payment_terms(header: etree._Element) -> dict:
    """cXML sends one PaymentTerm per tier: the one with a percentage is the early-payment
    discount, the one without is the net term."""
    terms: dict[str, Any] = {}
    for term in header.findall("PaymentTerm"):
        days = term.get("payInNumberOfDays")
        rate = to_decimal(_attr(term, "Discount/DiscountPercent", "percent"))
        if rate:
            terms.update(discount_percent=str(rate), discount_days=days)
        else:
            terms["net_days"] = days
    return terms


def _due_date(invoice_date: str | None, net_days: str | None) -> str | None:
    """cXML defines payInNumberOfDays as days after the invoice date."""
    if not invoice_date or not net_days or not net_days.isdigit():
        return None
    try:
        return (date.fromisoformat(invoice_date) + timedelta(days=int(net_days))).isoformat()
    except (ValueError, OverflowError):  # "²", or more days than a date can move
        return None


def _order_reference(order: etree._Element) -> str | None:
    info = order.find("InvoiceDetailOrderInfo")
    return (
        _attr(info, "OrderReference", "orderID")
        or _attr(info, "OrderIDInfo", "orderID")
        # Coupa puts the PO number in the referenced payloadID when it sends no orderID.
        or _attr(info, "OrderReference/DocumentReference", "payloadID")
    )


def _invoice_line(item: etree._Element, po_number: str | None) -> dict:
    reference = item.find("InvoiceDetailItemReference")
    tax_detail = item.find("Tax/TaxDetail")
    return {
        "line_id": item.get("invoiceLineNumber"),
        "description": _text(reference, "Description"),
        "supplier_item_id": _text(reference, "ItemID/SupplierPartID"),
        "buyer_item_id": _text(reference, "ItemID/BuyerPartID"),
        "quantity": item.get("quantity"),
        "unit_code": _text(item, "UnitOfMeasure"),
        "unit_price": _money(item, "UnitPrice"),
        "line_extension_amount": _money(item, "SubtotalAmount"),
        "tax_amount": _money(item, "Tax"),
        "tax_rate": tax_detail.get("percentageRate") if tax_detail is not None else None,
        "tax_category": tax_detail.get("category") if tax_detail is not None else None,
        "po_number": po_number,
        "po_line": reference.get("lineNumber") if reference is not None else None,
    }


def _lines(request: etree._Element) -> list[dict]:
    lines = []
    for order in request.findall("InvoiceDetailOrder"):
        po_number = _order_reference(order)
        lines += [_invoice_line(item, po_number) for item in order.findall("InvoiceDetailItem")]
    return lines


def _charges(summary: etree._Element | None) -> list[dict]:
    charges = [
        {
            "is_charge": True,
            "amount": _money(summary, "SpecialHandlingAmount"),
            "reason": "special handling",
        },
        {"is_charge": True, "amount": _money(summary, "ShippingAmount"), "reason": "shipping"},
        {
            "is_charge": False,
            "amount": _money(summary, "InvoiceDetailDiscount"),
            "reason": "discount",
        },
    ]
    # Zero-valued placeholders are noise, not charges.
    return [charge for charge in charges if to_decimal(charge["amount"]) not in (None, Decimal(0))]


def _totals(summary: etree._Element | None, charges: list[dict]) -> dict:
    allowance = add(*(c["amount"] for c in charges if not c["is_charge"]))
    charge = add(*(c["amount"] for c in charges if c["is_charge"]))
    line_total = _money(summary, "SubtotalAmount")
    tax = _money(summary, "Tax")
    exclusive = add(line_total, charge, negate(allowance))
    inclusive = add(exclusive, tax)
    # DueAmount is what is owed; NetAmount (gross less discounts) stands in when it is absent.
    payable = _money(summary, "DueAmount") or _money(summary, "NetAmount") or inclusive
    return {
        "line_total": line_total,
        "allowance_total": allowance,
        "charge_total": charge,
        "tax_exclusive": exclusive,
        "tax_total": tax,
        "tax_inclusive": _money(summary, "GrossAmount") or inclusive,
        "payable": payable,
    }


def _currency(request: etree._Element) -> str | None:
    money = request.find("InvoiceDetailSummary/SubtotalAmount/Money")
    if money is None:
        money = next(request.iter("Money"), None)
    return money.get("currency") if money is not None else None


def _document_type(header: etree._Element) -> str:
    return "credit_note" if header.get("purpose") in CREDIT_PURPOSES else "invoice"


def _header_po(lines: list[dict]) -> str | None:
    numbers = {line["po_number"] for line in lines if line.get("po_number")}
    return numbers.pop() if len(numbers) == 1 else None


def _invoice(request: etree._Element, credentials: dict[str, list[dict | None]]) -> dict[str, Any]:
    header = request.find("InvoiceDetailRequestHeader")
    if header is None:
        raise EnvelopeError(
            "InvoiceDetailRequest without InvoiceDetailRequestHeader", "//InvoiceDetailRequest"
        )
    if header.get("operation") == "delete":
        raise not_accepted(
            "a cXML invoice cancellation (operation=delete)",
            "invoice",
            "//InvoiceDetailRequestHeader",
        )
    partners = _partners(header)
    summary = request.find("InvoiceDetailSummary")
    charges = _charges(summary)
    lines = _lines(request)
    terms = _payment_terms(header)
    issue_date = date_part(header.get("invoiceDate"))
    return {
        "document_type": _document_type(header),
        "invoice_number": header.get("invoiceID"),
        "issue_date": issue_date,
        "due_date": _due_date(issue_date, terms.get("net_days")),
        "tax_point_date": date_part(_attr(request, ".//TaxDetail", "taxPointDate")),
        "currency": _currency(request),
        "supplier": _party(_contact(partners, SUPPLIER_ROLES), credentials["From"]),
        "buyer": _party(_contact(partners, BUYER_ROLES), credentials["To"]),
        "ship_to": _party(partners.get("shipTo"), []) if "shipTo" in partners else None,
        "remit_to": _remit_to(partners.get("remitTo")),
        "payment_terms": terms,
        "po_number": _header_po(lines),
        "lines": lines,
        "allowances_charges": charges,
        "totals": _totals(summary, charges),
        "notes": [comment.text for comment in header.findall("Comments") if comment.text],
    }


def _status_quantity(statuses: list[etree._Element]) -> str | None:
    return add(*(status.get("quantity") for status in statuses if status.get("type") != "reject"))


def _item_status(item: etree._Element, statuses: list[etree._Element]) -> str | None:
    types = {status.get("type") for status in statuses}
    if len(types) == 1 and (only := next(iter(types))) in ITEM_STATUS:
        accepted_all = only != "accept" or _same_quantity(item, statuses)
        return ITEM_STATUS[only] if accepted_all else "change"
    return "change" if types else None


def _same_quantity(item: etree._Element, statuses: list[etree._Element]) -> bool:
    return to_decimal(_status_quantity(statuses)) == to_decimal(item.get("quantity"))


def _status_price(status: etree._Element) -> str | None:
    return _money(status, "UnitPrice") or _money(status, "ItemIn/ItemDetail/UnitPrice")


def _ack_line(item: etree._Element) -> dict:
    statuses = item.findall("ConfirmationStatus")
    status = _item_status(item, statuses)
    quantity = _status_quantity(statuses)
    changed = status == "change" and to_decimal(quantity) != to_decimal(item.get("quantity"))
    prices = [price for price in map(_status_price, statuses) if price]
    dates = [date_part(s.get("deliveryDate")) for s in statuses if s.get("deliveryDate")]
    comments = [c.text for s in statuses for c in s.findall("Comments") if c.text]
    return {
        "line_id": item.get("lineNumber"),
        "po_line": item.get("lineNumber"),
        "status": status,
        "reason": " ".join(comments) if status != "accept" and comments else None,
        "supplier_item_id": _text(item, ".//ItemID/SupplierPartID"),
        "unit_code": _text(item, "UnitOfMeasure"),
        "original_quantity": item.get("quantity"),
        "changed_quantity": quantity if changed else None,
        "changed_unit_price": prices[0] if prices else None,
        "changed_delivery_date": dates[0] if dates else None,
        "notes": comments,
    }


def _ack_status(header_type: str | None, lines: list[dict]) -> str | None:
    if header_type in HEADER_STATUS:
        return HEADER_STATUS[header_type]
    if header_type in {"detail", "allDetail", "requestToPay"}:
        if lines and all(line["status"] == "reject" for line in lines):
            return "rejected"
        changed = any(line["status"] != "accept" for line in lines)
        return "accepted_with_changes" if changed else "accepted"
    return header_type


def _acknowledgment(
    request: etree._Element, credentials: dict[str, list[dict | None]], payload_id: str | None
) -> dict[str, Any]:
    header = request.find("ConfirmationHeader")
    if header is None:
        raise EnvelopeError(
            "ConfirmationRequest without ConfirmationHeader", "//ConfirmationRequest"
        )
    lines = [_ack_line(item) for item in request.findall("ConfirmationItem")]
    status = _ack_status(header.get("type"), lines)
    comments = [c.text for c in header.findall("Comments") if c.text]
    money = header.find("Total/Money")
    return {
        "ack_number": header.get("confirmID") or payload_id,
        "po_number": _attr(request, "OrderReference", "orderID"),
        "issue_date": date_part(header.get("noticeDate")),
        "status": status,
        "reason": " ".join(comments) if status != "accepted" and comments else None,
        "currency": money.get("currency") if money is not None else None,
        "supplier": _party(None, credentials["From"]),
        "buyer": _party(None, credentials["To"]),
        "lines": lines,
        "notes": comments,
    }


def _request(root: etree._Element) -> etree._Element:
    request = root.find("Request")
    if request is None:
        child = next((local_name(el) for el in root if local_name(el) != "Header"), "no Request")
        raise not_accepted(f"cXML {child}", "invoice or acknowledgment", "/cXML")
    body = next(iter(request), None)
    if body is None:
        raise EnvelopeError("empty cXML Request", "/cXML/Request")
    return body


def parse_root(root: etree._Element, kind: Kind) -> list[RawDocument]:
    """Map an already safely parsed cXML root; one cXML envelope carries one request."""
    body = _request(root)
    name = local_name(body)
    if REQUEST_KINDS.get(name) != kind:
        raise not_accepted(f"cXML {name}", kind, f"/cXML/Request/{name}")
    header = root.find("Header")
    credentials = {side: _credential(header, side) for side in ("From", "To")}
    payload_id = root.get("payloadID")
    if kind == "invoice":
        data = _invoice(body, credentials)
    else:
        data = _acknowledgment(body, credentials, payload_id)
    return [RawDocument(prune(data), f"{name} {payload_id or ''}".strip())]


def parse(payload: bytes, kind: Kind) -> list[RawDocument]:
    root = parse_xml(payload)
    if not is_cxml(root):
        raise EnvelopeError(f"root element {local_name(root)} is not cXML", f"/{local_name(root)}")
    return [
        RawDocument(doc.data, doc.identity, (0, len(payload))) for doc in parse_root(root, kind)
    ]
