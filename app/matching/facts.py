"""The facts a check needs, gathered before any rule runs: the invoice as the portal read it,
the purchase order as the ERP holds it, what earlier documents on that PO already billed, and
what the portal knows of the supplier. Plain frozen records, so rules stay pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.canonical import Acknowledgment, Invoice
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder
from app.matching.tolerances import Tolerance

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineFacts:
    line_id: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    po_line: int | None
    description: str = ""


@dataclass(frozen=True)
class InvoiceFacts:
    number: str
    issue_date: dt.date
    currency: str
    is_credit: bool
    po_number: str | None
    lines: tuple[LineFacts, ...]
    line_total: Decimal
    payable: Decimal
    allowance_total: Decimal = ZERO
    charge_total: Decimal = ZERO
    prepaid: Decimal = ZERO
    tax_total: Decimal | None = None
    # The tax the document's own breakdown adds up to (subtotals, else line taxes), if any.
    tax_breakdown: Decimal | None = None
    cost_centre: str | None = None
    remit_account: str | None = None

    @property
    def billed_sign(self) -> int:
        """How the document's figures count toward what was billed: an invoice adds them; a
        credit note takes them off, whether it states them positive (UBL, canonical JSON) or
        negative (cXML credit memos, X12 810 credits, CSV)."""
        if not self.is_credit:
            return 1
        return 1 if self.payable < 0 or self.line_total < 0 else -1

    @classmethod
    def from_invoice(cls, invoice: Invoice, cost_centre: str | None = None) -> InvoiceFacts:
        totals = invoice.totals
        return cls(
            number=invoice.invoice_number,
            issue_date=invoice.issue_date,
            currency=invoice.currency,
            is_credit=invoice.document_type == "credit_note",
            po_number=invoice.po_number or _first_line_po(invoice),
            lines=tuple(_line(line) for line in invoice.lines),
            line_total=totals.line_total,
            payable=totals.payable,
            allowance_total=totals.allowance_total,
            charge_total=totals.charge_total,
            prepaid=totals.prepaid,
            tax_total=totals.tax_total,
            tax_breakdown=_tax_breakdown(invoice),
            # A correction finance made wins over what the document says.
            cost_centre=cost_centre or invoice.accounting_cost,
            remit_account=_remit_account(invoice),
        )


def _line(line) -> LineFacts:
    po_line = line.po_line.strip() if line.po_line else None
    return LineFacts(
        line_id=line.line_id,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.line_extension_amount,
        po_line=int(po_line) if po_line and po_line.isdigit() else None,
        description=line.description or "",
    )


def _first_line_po(invoice: Invoice) -> str | None:
    return next((line.po_number for line in invoice.lines if line.po_number), None)


def _tax_breakdown(invoice: Invoice) -> Decimal | None:
    if invoice.tax_subtotals:
        return sum((s.tax_amount for s in invoice.tax_subtotals), ZERO)
    taxed = [line.tax_amount for line in invoice.lines if line.tax_amount is not None]
    return sum(taxed, ZERO) if taxed else None


def _remit_account(invoice: Invoice) -> str | None:
    remit = invoice.remit_to
    if remit is None:
        return None
    return remit.iban or remit.account_number


@dataclass(frozen=True)
class PoLineFacts:
    line_number: int
    quantity: Decimal
    unit_price: Decimal
    quantity_received: Decimal
    need_by_date: dt.date | None = None


@dataclass(frozen=True)
class PoFacts:
    number: str
    vendor_number: str
    is_open: bool
    currency: str
    total_amount: Decimal
    lines: Mapping[int, PoLineFacts]

    @classmethod
    def from_erp(cls, order: PurchaseOrder) -> PoFacts:
        return cls(
            number=order.number,
            vendor_number=order.vendor_number,
            is_open=order.status in OPEN_PO_STATUSES,
            currency=order.currency,
            total_amount=order.total_amount,
            lines={
                line.line_number: PoLineFacts(
                    line.line_number,
                    line.quantity,
                    line.unit_price,
                    line.quantity_received,
                    line.need_by_date,
                )
                for line in order.lines
            },
        )


@dataclass(frozen=True)
class History:
    """What earlier invoices on the same PO billed, credit notes subtracted: quantities per PO
    line and the amount in all. This invoice is not part of it."""

    quantities: Mapping[int, Decimal] = field(default_factory=dict)
    amount: Decimal = ZERO

    def quantity(self, po_line: int) -> Decimal:
        return self.quantities.get(po_line, ZERO)


@dataclass(frozen=True)
class SupplierFacts:
    vendor_number: str | None
    active: bool
    # Suspended after being active: its invoices in flight are held until it is reactivated,
    # not sent back (a supplier never approved has its invoices rejected).
    suspended: bool = False
    verified_account: str | None = None
    bank_changed_at: dt.datetime | None = None
    # The account the ERP's vendor record pays to ("" for none); None when it was not asked.
    erp_account: str | None = None


@dataclass(frozen=True)
class Context:
    tolerance: Tolerance
    today: dt.date
    valid_cost_centres: frozenset[str] = frozenset()
    max_age_days: int = 365
    max_future_days: int = 1
    bank_change_days: int = 30


@dataclass(frozen=True)
class Case:
    """Everything one check of one invoice reads."""

    invoice: InvoiceFacts
    po: PoFacts | None
    supplier: SupplierFacts
    context: Context
    history: History = History()


# -- acknowledgments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AckLineFacts:
    """The supplier's answer for one PO line: accept, reject or change, and what it changed."""

    po_line: int | None
    status: str
    reason: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    delivery_date: dt.date | None = None
    label: str = ""


@dataclass(frozen=True)
class AckFacts:
    number: str
    po_number: str
    status: str
    currency: str | None
    lines: tuple[AckLineFacts, ...]
    reason: str | None = None

    @classmethod
    def from_acknowledgment(cls, ack: Acknowledgment) -> AckFacts:
        return cls(
            number=ack.ack_number,
            po_number=ack.po_number,
            status=ack.status,
            currency=ack.currency,
            reason=ack.reason,
            lines=tuple(
                AckLineFacts(
                    po_line=int(line.po_line) if line.po_line.strip().isdigit() else None,
                    status=line.status,
                    reason=line.reason,
                    quantity=line.changed_quantity,
                    unit_price=line.changed_unit_price,
                    delivery_date=line.changed_delivery_date,
                    label=line.po_line,
                )
                for line in ack.lines
            ),
        )


@dataclass(frozen=True)
class AckCase:
    """Everything one check of one acknowledgment reads."""

    ack: AckFacts
    po: PoFacts | None
    supplier: SupplierFacts
