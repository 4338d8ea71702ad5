"""What is left to invoice on each line of a PO, counted as validation counts it
(`billed`: every invoice accepted for payment, credit notes subtracted). The supplier's PO page
and the example documents read it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.erp.interface import PurchaseOrder
from app.matching.services import billed

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineLeft:
    """One PO line: ordered, received, invoiced so far, and what is left to invoice now (what
    was received and not yet invoiced) and in all (ordered and not yet invoiced)."""

    line_number: int
    description: str
    ordered: Decimal
    received: Decimal
    invoiced: Decimal

    @property
    def left_now(self) -> Decimal:
        return max(self.received - self.invoiced, ZERO)

    @property
    def left_on_order(self) -> Decimal:
        return max(self.ordered - self.invoiced, ZERO)


def left_to_invoice(supplier_id: int, order: PurchaseOrder) -> list[LineLeft]:
    history = billed(supplier_id, order.number)
    return [
        LineLeft(
            line.line_number,
            line.description,
            line.quantity,
            line.quantity_received,
            history.quantity(line.line_number),
        )
        for line in order.lines
    ]
