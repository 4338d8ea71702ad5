"""Example documents in every wire format, built at request time for one purchase order, so a
newcomer can download one, send it back and watch it go through: the invoice is the PO flip's
canonical invoice (one PO line's goods received and not yet invoiced, at the PO price), written
out as JSON, UBL 2.1 (Peppol BIS 3), cXML, X12 810 and CSV; the acknowledgment is an X12 855
accepting every line. The writers are pure; `for_supplier` reads the supplier's open POs from
the ERP and what the portal's invoices billed on them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from flask import Response

from app.erp import get_erp
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder
from app.intake import flip
from app.matching.left import left_to_invoice
from app.orgs.models import Organization

BUYER_NAME = "Hospital Network"
BUYER_ID = "HOSPITALNET"


@dataclass(frozen=True)
class Example:
    """One downloadable example: what to call the file, how to send it, its bytes."""

    format: str
    kind: str  # "invoice" or "acknowledgment"
    label: str
    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Format:
    key: str
    kind: str
    label: str
    suffix: str
    content_type: str


FORMATS = (
    Format("json", "invoice", "Canonical JSON invoice", "json", "application/json"),
    Format("ubl", "invoice", "UBL 2.1 invoice (Peppol BIS 3)", "xml", "application/xml"),
    Format("cxml", "invoice", "cXML InvoiceDetailRequest", "xml", "application/xml"),
    Format("x12-810", "invoice", "X12 810 invoice (004010)", "x12", "application/edi-x12"),
    Format("x12-855", "acknowledgment", "X12 855 PO acknowledgment", "x12", "application/edi-x12"),
    Format("csv", "invoice", "CSV invoice", "csv", "text/csv"),
)
FORMATS_BY_KEY = {fmt.key: fmt for fmt in FORMATS}


def build(
    key: str,
    order: PurchaseOrder,
    supplier: flip.FlipSupplier,
    now: dt.datetime,
    left: dict[int, Decimal] | None = None,
) -> Example:
    """The example `key` (one of FORMATS) for `order`; numbers carry the time so that each
    download is a new document, not a duplicate of the last one. An invoice bills `left` (PO
    line number -> quantity), by default every received quantity. KeyError for an unknown key."""
    fmt = FORMATS_BY_KEY[key]
    number = f"EX-{now:%y%m%d%H%M%S}-{key.upper()}"
    if fmt.kind == "acknowledgment":
        body = _x12_855(order, supplier, number, now)
    else:
        invoice = _invoice(order, supplier, number, now.date(), left)
        body = WRITERS[key](invoice, order, now)
    filename = f"{number.lower()}.{fmt.suffix}"
    return Example(key, fmt.kind, fmt.label, filename, fmt.content_type, body)


def download(example: Example) -> Response:
    """The example as a file download (built for this request: never cached)."""
    response = Response(example.body, mimetype=example.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{example.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


class NoOpenOrderError(LookupError):
    """The supplier has no open purchase order to build an example for."""


def for_supplier(key: str, supplier: Organization, correlation_id: str | None) -> Example:
    """The example `key` for one of the supplier's open POs, so that it goes through: an
    invoice bills one PO line's goods received and not yet invoiced (as validation counts
    them), an acknowledgment accepts every line of the first open PO. NoOpenOrderError when
    there is no such PO (or nothing left to invoice), ErpError when the ERP does not answer."""
    orders = (
        get_erp().list_purchase_orders(
            vendor_number=supplier.erp_vendor_number, correlation_id=correlation_id
        )
        if supplier.erp_vendor_number
        else []
    )
    open_orders = sorted(
        (order for order in orders if order.status in OPEN_PO_STATUSES),
        key=lambda order: (not _received(order), order.number),
    )
    party = flip.FlipSupplier(supplier.id, supplier.name, supplier.erp_vendor_number)
    now = dt.datetime.now(dt.UTC)
    if FORMATS_BY_KEY[key].kind == "acknowledgment" and open_orders:
        return build(key, open_orders[0], party, now)
    for order in open_orders:
        left = _left_on_one_line(supplier.id, order)
        if left:
            return build(key, order, party, now, left)
    raise NoOpenOrderError(supplier.name)


def _left_on_one_line(supplier_id: int, order: PurchaseOrder) -> dict[int, Decimal]:
    """The first PO line with goods received and not yet invoiced, and how many: one line per
    example, so that several examples go through before the received goods are all billed."""
    for line in left_to_invoice(supplier_id, order):
        if line.left_now > 0:
            return {line.line_number: line.left_now}
    return {}


def _received(order: PurchaseOrder) -> bool:
    return any(line.quantity_received > 0 for line in order.lines)


def _invoice(
    order: PurchaseOrder,
    supplier: flip.FlipSupplier,
    number: str,
    issued: dt.date,
    left: dict[int, Decimal] | None = None,
) -> dict[str, Any]:
    if left is None:
        received = [line for line in order.lines if line.quantity_received > 0]
        left = {
            line.line_number: line.quantity_received or line.quantity
            for line in received or order.lines
        }
    chosen = [
        flip.FlipLine(line.line_number, left[line.line_number], line.unit_price)
        for line in order.lines
        if line.line_number in left
    ]
    return flip.invoice_from_po(
        order, chosen, supplier=supplier, invoice_number=number, issue_date=issued
    )


# -- JSON and CSV -------------------------------------------------------------------------------


def _json(invoice: dict[str, Any], order: PurchaseOrder, now: dt.datetime) -> bytes:
    return json.dumps(invoice, indent=2).encode()


CSV_COLUMNS = (
    "invoice_number",
    "issue_date",
    "currency",
    "supplier_name",
    "supplier_portal_id",
    "supplier_erp_vendor_number",
    "po_number",
    "line_id",
    "description",
    "buyer_item_id",
    "quantity",
    "unit_code",
    "unit_price",
    "line_amount",
    "line_po_number",
    "po_line",
    "tax_total",
    "payable_amount",
)


def _csv(invoice: dict[str, Any], order: PurchaseOrder, now: dt.datetime) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    supplier, totals = invoice["supplier"], invoice["totals"]
    for line in invoice["lines"]:
        writer.writerow(
            (
                invoice["invoice_number"],
                invoice["issue_date"],
                invoice["currency"],
                supplier["name"],
                supplier["portal_id"],
                supplier.get("erp_vendor_number", ""),
                invoice["po_number"],
                line["line_id"],
                line["description"],
                line["buyer_item_id"],
                line["quantity"],
                line["unit_code"],
                line["unit_price"],
                line["line_extension_amount"],
                line["po_number"],
                line["po_line"],
                totals["tax_total"],
                totals["payable"],
            )
        )
    return out.getvalue().encode()


# -- UBL 2.1 (Peppol BIS Billing 3.0) ----------------------------------------------------------

UBL_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
"""


def _ubl(invoice: dict[str, Any], order: PurchaseOrder, now: dt.datetime) -> bytes:
    cur = quoteattr(invoice["currency"])
    supplier, totals = invoice["supplier"], invoice["totals"]
    vendor = supplier.get("erp_vendor_number", "")
    parts = [
        UBL_HEAD,
        f"  <cbc:ID>{escape(invoice['invoice_number'])}</cbc:ID>\n",
        f"  <cbc:IssueDate>{invoice['issue_date']}</cbc:IssueDate>\n",
        "  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>\n",
        f"  <cbc:DocumentCurrencyCode>{escape(invoice['currency'])}</cbc:DocumentCurrencyCode>\n",
        f"  <cac:OrderReference><cbc:ID>{escape(order.number)}</cbc:ID></cac:OrderReference>\n",
        "  <cac:AccountingSupplierParty><cac:Party>\n",
        f'    <cac:PartyIdentification><cbc:ID schemeID="vendor">{escape(vendor)}</cbc:ID></cac:PartyIdentification>\n',
        f"    <cac:PartyName><cbc:Name>{escape(supplier['name'])}</cbc:Name></cac:PartyName>\n",
        "  </cac:Party></cac:AccountingSupplierParty>\n",
        "  <cac:AccountingCustomerParty><cac:Party>\n",
        f"    <cac:PartyName><cbc:Name>{BUYER_NAME}</cbc:Name></cac:PartyName>\n",
        "  </cac:Party></cac:AccountingCustomerParty>\n",
        f"  <cac:TaxTotal><cbc:TaxAmount currencyID={cur}>{totals['tax_total']}</cbc:TaxAmount></cac:TaxTotal>\n",
        "  <cac:LegalMonetaryTotal>\n",
        f"    <cbc:LineExtensionAmount currencyID={cur}>{totals['line_total']}</cbc:LineExtensionAmount>\n",
        f"    <cbc:TaxExclusiveAmount currencyID={cur}>{totals['tax_exclusive']}</cbc:TaxExclusiveAmount>\n",
        f"    <cbc:TaxInclusiveAmount currencyID={cur}>{totals['tax_inclusive']}</cbc:TaxInclusiveAmount>\n",
        f"    <cbc:PayableAmount currencyID={cur}>{totals['payable']}</cbc:PayableAmount>\n",
        "  </cac:LegalMonetaryTotal>\n",
        *(_ubl_line(line, cur) for line in invoice["lines"]),
        "</Invoice>\n",
    ]
    return "".join(parts).encode()


def _ubl_line(line: dict[str, Any], cur: str) -> str:
    return (
        "  <cac:InvoiceLine>\n"
        f"    <cbc:ID>{escape(line['line_id'])}</cbc:ID>\n"
        f"    <cbc:InvoicedQuantity unitCode={quoteattr(line['unit_code'])}>{line['quantity']}</cbc:InvoicedQuantity>\n"
        f"    <cbc:LineExtensionAmount currencyID={cur}>{line['line_extension_amount']}</cbc:LineExtensionAmount>\n"
        f"    <cac:OrderLineReference><cbc:LineID>{escape(line['po_line'])}</cbc:LineID>"
        f"<cac:OrderReference><cbc:ID>{escape(line['po_number'])}</cbc:ID></cac:OrderReference></cac:OrderLineReference>\n"
        f"    <cac:Item><cbc:Name>{escape(line['description'])}</cbc:Name>"
        f"<cac:BuyersItemIdentification><cbc:ID>{escape(line['buyer_item_id'])}</cbc:ID></cac:BuyersItemIdentification></cac:Item>\n"
        f"    <cac:Price><cbc:PriceAmount currencyID={cur}>{line['unit_price']}</cbc:PriceAmount></cac:Price>\n"
        "  </cac:InvoiceLine>\n"
    )


# -- cXML --------------------------------------------------------------------------------------


def _cxml(invoice: dict[str, Any], order: PurchaseOrder, now: dt.datetime) -> bytes:
    cur = quoteattr(invoice["currency"])
    supplier, totals = invoice["supplier"], invoice["totals"]
    vendor = escape(supplier.get("erp_vendor_number", ""))
    stamp = now.replace(microsecond=0).isoformat()
    items = "".join(_cxml_item(line, cur) for line in invoice["lines"])
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<cXML payloadID={quoteattr(invoice["invoice_number"] + "@supplier-portal.example")} timestamp="{stamp}">
  <Header>
    <From><Credential domain="VendorID"><Identity>{vendor}</Identity></Credential></From>
    <To><Credential domain="NetworkID"><Identity>{BUYER_ID}</Identity></Credential></To>
    <Sender><Credential domain="VendorID"><Identity>{vendor}</Identity></Credential><UserAgent>Supplier Portal example</UserAgent></Sender>
  </Header>
  <Request deploymentMode="production">
    <InvoiceDetailRequest>
      <InvoiceDetailRequestHeader invoiceID={quoteattr(invoice["invoice_number"])} purpose="standard" operation="new" invoiceDate="{invoice["issue_date"]}T00:00:00+00:00">
        <InvoiceDetailHeaderIndicator/>
        <InvoiceDetailLineIndicator/>
        <InvoicePartner>
          <Contact role="remitTo"><Name xml:lang="en">{escape(supplier["name"])}</Name></Contact>
          <IdReference domain="vendorID" identifier="{vendor}"/>
        </InvoicePartner>
      </InvoiceDetailRequestHeader>
      <InvoiceDetailOrder>
        <InvoiceDetailOrderInfo><OrderReference orderID={quoteattr(order.number)}><DocumentReference payloadID={quoteattr(order.number)}/></OrderReference></InvoiceDetailOrderInfo>
{items}      </InvoiceDetailOrder>
      <InvoiceDetailSummary>
        <SubtotalAmount><Money currency={cur}>{totals["line_total"]}</Money></SubtotalAmount>
        <Tax><Money currency={cur}>{totals["tax_total"]}</Money><Description xml:lang="en">Tax</Description></Tax>
        <DueAmount><Money currency={cur}>{totals["payable"]}</Money></DueAmount>
      </InvoiceDetailSummary>
    </InvoiceDetailRequest>
  </Request>
</cXML>
"""
    return text.encode()


def _cxml_item(line: dict[str, Any], cur: str) -> str:
    return (
        f'        <InvoiceDetailItem invoiceLineNumber="{escape(line["line_id"])}" quantity="{line["quantity"]}">\n'
        f"          <UnitOfMeasure>{escape(line['unit_code'])}</UnitOfMeasure>\n"
        f"          <UnitPrice><Money currency={cur}>{line['unit_price']}</Money></UnitPrice>\n"
        f"          <InvoiceDetailItemReference lineNumber={quoteattr(line['po_line'])}>"
        f"<ItemID><SupplierPartID>{escape(line['buyer_item_id'])}</SupplierPartID>"
        f"<BuyerPartID>{escape(line['buyer_item_id'])}</BuyerPartID></ItemID>"
        f'<Description xml:lang="en">{escape(line["description"])}</Description></InvoiceDetailItemReference>\n'
        f"          <SubtotalAmount><Money currency={cur}>{line['line_extension_amount']}</Money></SubtotalAmount>\n"
        "        </InvoiceDetailItem>\n"
    )


# -- X12 (004010; * elements, ~ segments, : components) --------------------------------------


X12_DELIMITERS = str.maketrans("*~:^", "    ")


def _x12_text(value: Any) -> str:
    """An element value with the delimiters taken out (X12 has no escaping)."""
    return str(value).translate(X12_DELIMITERS)


def _interchange(kind: str, group_code: str, body: list[str], now: dt.datetime) -> bytes:
    control = now.strftime("%H%M%S%f")[:9]
    sender = f"{'SUPPLIER':<15}"
    receiver = f"{BUYER_ID:<15}"
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender}*ZZ*{receiver}*{now:%y%m%d}*{now:%H%M}*U*00401*{control}*0*T*:",
        f"GS*{group_code}*SUPPLIER*{BUYER_ID}*{now:%Y%m%d}*{now:%H%M}*1*X*004010",
        f"ST*{kind}*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*1",
        f"IEA*1*{control}",
    ]
    return ("~\n".join(segments) + "~\n").encode()


def _cents(value: str) -> str:
    return str(int((Decimal(value) * 100).to_integral_value()))


def _x12_810(invoice: dict[str, Any], order: PurchaseOrder, now: dt.datetime) -> bytes:
    supplier = invoice["supplier"]
    issued = invoice["issue_date"].replace("-", "")
    body = [
        f"BIG*{issued}*{_x12_text(invoice['invoice_number'])}**{_x12_text(order.number)}",
        f"CUR*SE*{invoice['currency']}",
        f"REF*IA*{_x12_text(supplier.get('erp_vendor_number', ''))}",
        f"N1*SU*{_x12_text(supplier['name'])}",
        f"N1*BT*{BUYER_NAME}*92*{BUYER_ID}",
    ]
    for line in invoice["lines"]:
        body += [
            f"IT1*{line['line_id']}*{line['quantity']}*{_x12_text(line['unit_code'])}*{line['unit_price']}"
            f"**BP*{_x12_text(line['buyer_item_id'])}*PO*{_x12_text(line['po_number'])}*PL*{line['po_line']}",
            f"PID*F****{_x12_text(line['description'])}",
        ]
    body += [f"TDS*{_cents(invoice['totals']['payable'])}", f"CTT*{len(invoice['lines'])}"]
    return _interchange("810", "IN", body, now)


def _x12_855(
    order: PurchaseOrder, supplier: flip.FlipSupplier, number: str, now: dt.datetime
) -> bytes:
    today = f"{now:%Y%m%d}"
    body = [
        f"BAK*00*AC*{_x12_text(order.number)}*{order.order_date:%Y%m%d}****{_x12_text(number)}*{today}",
        f"N1*SE*{_x12_text(supplier.name)}*92*{_x12_text(supplier.erp_vendor_number or '')}",
    ]
    for line in order.lines:
        unit = _x12_text(line.uom)
        body += [
            f"PO1*{line.line_number}*{line.quantity}*{unit}*{line.unit_price}*PE*BP*{_x12_text(line.item_number)}",
            f"ACK*IA*{line.quantity}*{unit}",
        ]
    body.append(f"CTT*{len(order.lines)}")
    return _interchange("855", "PR", body, now)


WRITERS: dict[str, Callable[[dict[str, Any], PurchaseOrder, dt.datetime], bytes]] = {
    "json": _json,
    "ubl": _ubl,
    "cxml": _cxml,
    "x12-810": _x12_810,
    "csv": _csv,
}
