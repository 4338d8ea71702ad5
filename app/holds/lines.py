"""An invoice's lines beside the PO lines they bill, with each variance marked as validation
judges it: what the finance clerk reads first on a held invoice. Quantities are compared
cumulatively (what earlier invoices and credit notes billed on the PO line, plus this
invoice), price and quantities against the tolerance template in force for the supplier, and
the lines that carry open holds say which. Pure: the canonical invoice, the ERP's PO, the
billing history, the tolerance and the holds in, rows out; the lines are read as validation
reads them (app.matching.facts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app.canonical import Invoice
from app.erp.interface import PurchaseOrder, PurchaseOrderLine
from app.matching.facts import History, InvoiceFacts, LineFacts
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.matching.tolerances import Tolerance, exceeds

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineRow:
    line: LineFacts
    po_line: PurchaseOrderLine | None
    # Billed on the PO line in all, earlier documents and every line of this invoice on it.
    billed: Decimal = ZERO
    this_invoice: Decimal = ZERO  # of it, this invoice's lines on the PO line
    tolerance: Tolerance = field(default_factory=Tolerance)
    judged: bool = True  # False for a credit note: validation does not match its lines
    held_for: Sequence[HoldCode] = ()  # the open holds raised on this line

    @property
    def price_over(self) -> bool:
        po, price, tol = self.po_line, self.line.unit_price, self.tolerance
        return bool(
            self.judged
            and po
            and price is not None
            and exceeds(po.unit_price, price, tol.price_percent, tol.price_amount)
        )

    @property
    def quantity_over_received(self) -> bool:
        po = self.po_line
        percent = self.tolerance.received_percent
        return bool(
            self.judged and po and exceeds(po.quantity_received, self.billed, percent, None)
        )

    @property
    def quantity_over_ordered(self) -> bool:
        po = self.po_line
        percent = self.tolerance.quantity_percent
        return bool(self.judged and po and exceeds(po.quantity, self.billed, percent, None))

    @property
    def billed_before(self) -> Decimal:
        """What earlier documents billed on the PO line (credit notes taken off)."""
        return self.billed - self.this_invoice


def side_by_side(
    canonical: dict[str, Any] | None,
    order: PurchaseOrder | None,
    history: History | None = None,
    tolerance: Tolerance | None = None,
    holds: Iterable[Hold] = (),
) -> list[LineRow]:
    """One row per invoice line, with the PO line it names (None when it names none we know),
    the quantity billed on that PO line in all, and the open holds raised on the line."""
    if not canonical:
        return []
    try:
        facts = InvoiceFacts.from_invoice(Invoice.model_validate(canonical))
    except ValidationError:
        return []  # not a stored canonical invoice: nothing to lay beside the PO
    history = history or History()
    by_number = {line.line_number: line for line in order.lines} if order else {}
    this_invoice = _quantities(facts.lines)
    held = _open_codes(holds)
    rows = []
    for line in facts.lines:
        po_line = by_number.get(line.po_line) if line.po_line is not None else None
        mine = this_invoice.get(line.po_line, ZERO) if po_line else ZERO
        rows.append(
            LineRow(
                line,
                po_line,
                billed=history.quantity(po_line.line_number) + mine if po_line else ZERO,
                this_invoice=mine,
                tolerance=tolerance or Tolerance(),
                judged=not facts.is_credit,
                held_for=held.get(line.line_id, ()),
            )
        )
    return rows


def _quantities(lines: Iterable[LineFacts]) -> dict[int | None, Decimal]:
    """This invoice's quantity per PO line (two lines may bill the same PO line)."""
    total: dict[int | None, Decimal] = {}
    for line in lines:
        total[line.po_line] = total.get(line.po_line, ZERO) + line.quantity
    return total


def _open_codes(holds: Iterable[Hold]) -> dict[str, list[HoldCode]]:
    codes: dict[str, list[HoldCode]] = {}
    for hold in holds:
        if hold.status == HoldStatus.OPEN and hold.line:
            line_codes = codes.setdefault(hold.line, [])
            if hold.code not in line_codes:
                line_codes.append(hold.code)
    return codes
