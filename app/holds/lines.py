"""An invoice's lines beside the PO lines they bill, with each variance marked: what the
finance clerk reads first on a held invoice. Pure: the canonical invoice and the ERP's PO in,
rows out; the lines are read as validation reads them (app.matching.facts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.canonical import Invoice
from app.erp.interface import PurchaseOrder, PurchaseOrderLine
from app.matching.facts import InvoiceFacts, LineFacts


@dataclass(frozen=True)
class LineRow:
    line: LineFacts
    po_line: PurchaseOrderLine | None

    @property
    def price_over(self) -> bool:
        po, price = self.po_line, self.line.unit_price
        return bool(po and price is not None and price > po.unit_price)

    @property
    def quantity_over_received(self) -> bool:
        return bool(self.po_line and self.line.quantity > self.po_line.quantity_received)

    @property
    def quantity_over_ordered(self) -> bool:
        return bool(self.po_line and self.line.quantity > self.po_line.quantity)


def side_by_side(canonical: dict[str, Any] | None, order: PurchaseOrder | None) -> list[LineRow]:
    """One row per invoice line, with the PO line it names (None when it names none we know)."""
    if not canonical:
        return []
    try:
        facts = InvoiceFacts.from_invoice(Invoice.model_validate(canonical))
    except ValidationError:
        return []  # not a stored canonical invoice: nothing to lay beside the PO
    by_number = {line.line_number: line for line in order.lines} if order else {}
    return [
        LineRow(line, by_number.get(line.po_line) if line.po_line is not None else None)
        for line in facts.lines
    ]
