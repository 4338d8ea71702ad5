"""One invoice written in every wire format the portal reads (canonical JSON, UBL 2.1, cXML,
X12 810, CSV), for tests that send the same facts in each. `Spec` holds the facts as a sender
states them; each writer puts every fact where its format carries it and raises NotCarried for
a fact its format has no place for, so a test says so instead of sending something else."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

CENT = Decimal("0.01")


class NotCarried(Exception):  # noqa: N818 - reads as what it reports
    """The format has no place for a fact of this invoice."""


@dataclass(frozen=True)
class Line:
    line_id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    po_number: str | None
    po_line: int | None
    unit_code: str = "EA"
    tax_rate: Decimal = Decimal(5)
    amount: Decimal | None = None  # stated line amount; quantity x price when None

    @property
    def net(self) -> Decimal:
        return (
            self.amount
            if self.amount is not None
            else (self.quantity * self.unit_price).quantize(CENT)
        )

    @property
    def tax(self) -> Decimal:
        return (self.net * self.tax_rate / 100).quantize(CENT)


@dataclass(frozen=True)
class Spec:
    """An invoice as its sender states it. `tax_total` and `payable` are as stated; None
    means they add up (the sum of line taxes; lines + tax)."""

    number: str
    issue_date: dt.date
    currency: str
    supplier_name: str
    po_number: str | None
    lines: tuple[Line, ...]
    tax_total: Decimal | None = None
    payable: Decimal | None = None
    iban: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # A credit note: UBL and canonical JSON state it in positive figures, cXML, X12 and CSV
    # in negative ones (their own conventions); `billing_reference` names the invoice credited.
    credit: bool = False
    billing_reference: str | None = None
    cost_centre: str | None = None  # the buyer's accounting reference, for a non-PO invoice

    @property
    def line_total(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal(0))

    @property
    def tax_breakdown(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def stated_tax(self) -> Decimal:
        return self.tax_total if self.tax_total is not None else self.tax_breakdown

    @property
    def stated_payable(self) -> Decimal:
        return self.payable if self.payable is not None else self.line_total + self.stated_tax

    def signed(self, value: Decimal) -> Decimal:
        """As formats that write credits negative state `value`."""
        return -value if self.credit else value


# -- canonical JSON --------------------------------------------------------------------------


def to_json(spec: Spec) -> bytes:
    invoice = {
        "document_type": "credit_note" if spec.credit else "invoice",
        "billing_references": [spec.billing_reference] if spec.billing_reference else [],
        "invoice_number": spec.number,
        "issue_date": spec.issue_date.isoformat(),
        "currency": spec.currency,
        "supplier": {"name": spec.supplier_name},
        "po_number": spec.po_number,
        "accounting_cost": spec.cost_centre,
        "lines": [
            {
                "line_id": line.line_id,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_code": line.unit_code,
                "unit_price": str(line.unit_price),
                "line_extension_amount": str(line.net),
                "tax_category": "S",
                "tax_rate": str(line.tax_rate),
                "tax_amount": str(line.tax),
                "po_number": line.po_number,
                "po_line": None if line.po_line is None else str(line.po_line),
            }
            for line in spec.lines
        ],
        "totals": {
            "line_total": str(spec.line_total),
            "tax_exclusive": str(spec.line_total),
            "tax_total": str(spec.stated_tax),
            "payable": str(spec.stated_payable),
        },
    }
    if spec.iban:
        invoice["remit_to"] = {"iban": spec.iban}
    return json.dumps(invoice).encode()


# -- UBL 2.1 (Peppol BIS Billing 3) ------------------------------------------------------------


def _amount(tag: str, value: Decimal, currency: str) -> str:
    return f'<cbc:{tag} currencyID="{currency}">{value}</cbc:{tag}>'


def _ubl_line(line: Line, currency: str, credit: bool) -> str:
    tag, quantity = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    reference = ""
    if line.po_line is not None:
        reference = f"<cac:OrderLineReference><cbc:LineID>{line.po_line}</cbc:LineID></cac:OrderLineReference>"
    return (
        f"<cac:{tag}><cbc:ID>{escape(line.line_id)}</cbc:ID>"
        f'<cbc:{quantity} unitCode="{line.unit_code}">{line.quantity}</cbc:{quantity}>'
        f"{_amount('LineExtensionAmount', line.net, currency)}{reference}"
        f"<cac:Item><cbc:Name>{escape(line.description)}</cbc:Name>"
        f"<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{line.tax_rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>"
        f"<cac:Price>{_amount('PriceAmount', line.unit_price, currency)}</cac:Price></cac:{tag}>"
    )


def to_ubl(spec: Spec) -> bytes:
    cur = spec.currency
    order = (
        f"<cac:OrderReference><cbc:ID>{escape(spec.po_number)}</cbc:ID></cac:OrderReference>"
        if spec.po_number
        else ""
    )
    payment = (
        "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"
        f"<cac:PayeeFinancialAccount><cbc:ID>{spec.iban}</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>"
        if spec.iban
        else ""
    )
    rates = sorted({line.tax_rate for line in spec.lines})
    subtotals = "".join(
        "<cac:TaxSubtotal>"
        + _amount(
            "TaxableAmount",
            sum((ln.net for ln in spec.lines if ln.tax_rate == rate), Decimal(0)),
            cur,
        )
        + _amount(
            "TaxAmount", sum((ln.tax for ln in spec.lines if ln.tax_rate == rate), Decimal(0)), cur
        )
        + f"<cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal>"
        for rate in rates
    )
    root = "CreditNote" if spec.credit else "Invoice"
    type_code = (
        "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>"
        if spec.credit
        else "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
    )
    billing = (
        "<cac:BillingReference><cac:InvoiceDocumentReference>"
        f"<cbc:ID>{escape(spec.billing_reference)}</cbc:ID>"
        "</cac:InvoiceDocumentReference></cac:BillingReference>"
        if spec.billing_reference
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"'
        ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        "<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>"
        f"<cbc:ID>{escape(spec.number)}</cbc:ID><cbc:IssueDate>{spec.issue_date.isoformat()}</cbc:IssueDate>"
        f"{type_code}<cbc:DocumentCurrencyCode>{cur}</cbc:DocumentCurrencyCode>"
        + (
            f"<cbc:AccountingCost>{escape(spec.cost_centre)}</cbc:AccountingCost>"
            if spec.cost_centre
            else ""
        )
        + f"{order}{billing}"
        "<cac:AccountingSupplierParty><cac:Party>"
        f"<cac:PartyName><cbc:Name>{escape(spec.supplier_name)}</cbc:Name></cac:PartyName>"
        "</cac:Party></cac:AccountingSupplierParty>"
        "<cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Great Lakes Health</cbc:Name>"
        "</cac:PartyName></cac:Party></cac:AccountingCustomerParty>"
        f"{payment}"
        f"<cac:TaxTotal>{_amount('TaxAmount', spec.stated_tax, cur)}{subtotals}</cac:TaxTotal>"
        "<cac:LegalMonetaryTotal>"
        + _amount("LineExtensionAmount", spec.line_total, cur)
        + _amount("TaxExclusiveAmount", spec.line_total, cur)
        + _amount("TaxInclusiveAmount", spec.line_total + spec.stated_tax, cur)
        + _amount("PayableAmount", spec.stated_payable, cur)
        + "</cac:LegalMonetaryTotal>"
        + "".join(_ubl_line(line, cur, spec.credit) for line in spec.lines)
        + f"</{root}>"
    ).encode()


# -- cXML InvoiceDetailRequest ---------------------------------------------------------------


def _money(value: Decimal, currency: str) -> str:
    return f'<Money currency="{currency}">{value}</Money>'


def _cxml_item(line: Line, currency: str, sign: Decimal) -> str:
    po_line = f" lineNumber={quoteattr(str(line.po_line))}" if line.po_line is not None else ""
    return (
        f'<InvoiceDetailItem invoiceLineNumber={quoteattr(line.line_id)} quantity="{sign * line.quantity}">'
        f"<UnitOfMeasure>{line.unit_code}</UnitOfMeasure>"
        f"<UnitPrice>{_money(line.unit_price, currency)}</UnitPrice>"
        f'<InvoiceDetailItemReference{po_line}><Description xml:lang="en">{escape(line.description)}</Description>'
        "</InvoiceDetailItemReference>"
        f"<SubtotalAmount>{_money(sign * line.net, currency)}</SubtotalAmount>"
        f'<Tax>{_money(sign * line.tax, currency)}<Description xml:lang="en">VAT</Description>'
        f'<TaxDetail category="vat" percentageRate="{line.tax_rate}">'
        f"<TaxAmount>{_money(sign * line.tax, currency)}</TaxAmount></TaxDetail></Tax>"
        "</InvoiceDetailItem>"
    )


def _cxml_orders(spec: Spec) -> str:
    by_po: dict[str | None, list[Line]] = {}
    for line in spec.lines:
        by_po.setdefault(line.po_number, []).append(line)
    orders = []
    for po_number, lines in by_po.items():
        reference = (
            f'<OrderReference orderID={quoteattr(po_number)}><DocumentReference payloadID="po"/></OrderReference>'
            if po_number
            else ""
        )
        orders.append(
            f"<InvoiceDetailOrder><InvoiceDetailOrderInfo>{reference}</InvoiceDetailOrderInfo>"
            + "".join(_cxml_item(line, spec.currency, spec.signed(Decimal(1))) for line in lines)
            + "</InvoiceDetailOrder>"
        )
    return "".join(orders)


def to_cxml(spec: Spec) -> bytes:
    if spec.cost_centre:
        raise NotCarried("the portal reads no cost centre from cXML Accounting segments")
    cur, sign = spec.currency, spec.signed(Decimal(1))
    purpose = '"creditMemo"' if spec.credit else '"standard"'
    remit = (
        f'<InvoicePartner><Contact role="remitTo"><Name xml:lang="en">{escape(spec.supplier_name)}</Name></Contact>'
        f'<IdReference identifier="{spec.iban}" domain="ibanID"/></InvoicePartner>'
        if spec.iban
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<cXML payloadID="{escape(spec.number)}@supplier.example" timestamp="{spec.issue_date.isoformat()}T12:00:00+00:00">'
        '<Header><From><Credential domain="DUNS"><Identity>123456789</Identity></Credential></From>'
        '<To><Credential domain="NetworkId"><Identity>HOSPITAL-NET</Identity></Credential></To>'
        '<Sender><Credential domain="DUNS"><Identity>123456789</Identity></Credential>'
        "<UserAgent>corpus</UserAgent></Sender></Header>"
        "<Request><InvoiceDetailRequest>"
        f"<InvoiceDetailRequestHeader invoiceID={quoteattr(spec.number)} purpose={purpose} "
        f'operation="new" invoiceDate="{spec.issue_date.isoformat()}T12:00:00+00:00">'
        "<InvoiceDetailHeaderIndicator/><InvoiceDetailLineIndicator/>"
        f'<InvoicePartner><Contact role="issuerOfInvoice"><Name xml:lang="en">{escape(spec.supplier_name)}</Name>'
        "</Contact></InvoicePartner>"
        f"{remit}"
        "</InvoiceDetailRequestHeader>"
        f"{_cxml_orders(spec)}"
        "<InvoiceDetailSummary>"
        f"<SubtotalAmount>{_money(sign * spec.line_total, cur)}</SubtotalAmount>"
        f'<Tax>{_money(sign * spec.stated_tax, cur)}<Description xml:lang="en">VAT</Description></Tax>'
        f"<GrossAmount>{_money(sign * (spec.line_total + spec.stated_tax), cur)}</GrossAmount>"
        f"<NetAmount>{_money(sign * (spec.line_total + spec.stated_tax), cur)}</NetAmount>"
        f"<DueAmount>{_money(sign * spec.stated_payable, cur)}</DueAmount>"
        "</InvoiceDetailSummary></InvoiceDetailRequest></Request></cXML>"
    ).encode()


# -- X12 810 ---------------------------------------------------------------------------------

ISA = "ISA|00|          |00|          |ZZ|SUPPLIER       |ZZ|HOSPITALNET    |240301|1200|^|00501|000000901|0|T|:"


def _cents(value: Decimal) -> str:
    """N2: an implied decimal point."""
    return str(int((value * 100).to_integral_value()))


def to_x12(spec: Spec) -> bytes:
    if spec.cost_centre:
        raise NotCarried("the portal reads no cost centre from an 810")
    if spec.iban:
        raise NotCarried("an 810 carries no remit-to bank account here")
    if spec.tax_total is not None and spec.tax_total != spec.tax_breakdown:
        raise NotCarried("an 810's tax total is the sum of its TXI segments, never stated apart")
    body = [
        "ST|810|0001",
        f"BIG|{spec.issue_date:%Y%m%d}|{spec.number}||{spec.po_number or ''}|||"
        + ("CR" if spec.credit else "DI"),
        f"CUR|SE|{spec.currency}",
        f"N1|SU|{spec.supplier_name}",
    ]
    for line in spec.lines:
        if line.amount is not None:
            raise NotCarried("an 810 line carries no amount of its own (quantity x price)")
        ids = "|VN|" + line.line_id
        if line.po_number:
            ids += f"|PO|{line.po_number}"
        quantity = spec.signed(line.quantity)
        body.append(f"IT1|{line.line_id}|{quantity}|{line.unit_code}|{line.unit_price}|{ids}")
        if line.po_line is not None:
            body.append(f"REF|LI|{line.po_line}")
        body.append(f"PID|F||||{line.description}")
        body.append(f"TXI|VA|{spec.signed(line.tax)}|{line.tax_rate}")
    body.append(f"TDS|{_cents(spec.signed(spec.stated_payable))}")
    body.append(f"CTT|{len(spec.lines)}")
    body.append(f"SE|{len(body) + 1}|0001")
    segments = [
        ISA,
        "GS|IN|SUPPLIER|HOSPITALNET|20240301|1200|901|X|005010",
        *body,
        "GE|1|901",
        "IEA|1|000000901",
    ]
    return ("\n".join(segments) + "\n").encode()


# -- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "document_type", "invoice_number", "issue_date", "currency", "supplier_name", "po_number",
    "cost_centre", "iban",
    "line_id", "description", "quantity", "unit_code", "unit_price", "line_amount",
    "tax_category", "tax_rate", "line_tax_amount", "line_po_number", "po_line",
    "line_total", "tax_total", "payable_amount",
)  # fmt: skip


def to_csv(spec: Spec) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in spec.lines:
        writer.writerow(
            [
                "credit_note" if spec.credit else "invoice",
                spec.number,
                spec.issue_date.isoformat(),
                spec.currency,
                spec.supplier_name,
                spec.po_number or "",
                spec.cost_centre or "",
                spec.iban or "",
                line.line_id,
                line.description,
                spec.signed(line.quantity),
                line.unit_code,
                line.unit_price,
                spec.signed(line.net),
                "S",
                line.tax_rate,
                spec.signed(line.tax),
                line.po_number or "",
                "" if line.po_line is None else line.po_line,
                spec.signed(spec.line_total),
                spec.signed(spec.stated_tax),
                spec.signed(spec.stated_payable),
            ]
        )
    return out.getvalue().encode()


# The formats, with the Content-Type each is sent with.
WRITERS: dict[str, tuple[Callable[[Spec], bytes], str]] = {
    "json": (to_json, "application/json"),
    "ubl": (to_ubl, "application/xml"),
    "cxml": (to_cxml, "text/xml"),
    "x12": (to_x12, "application/edi-x12"),
    "csv": (to_csv, "text/csv"),
}
