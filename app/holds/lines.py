"""An invoice's lines beside the PO lines they bill, with each variance marked: what the
finance clerk reads first on a held invoice. Pure: the canonical invoice and the ERP's PO in,
rows out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.canonical.scalars import to_decimal
from app.erp.interface import PurchaseOrder, PurchaseOrderLine


@dataclass(frozen=True)
class LineRow:
    line_id: str
    description: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal | None
    po_line: PurchaseOrderLine | None

    @property
    def price_over(self) -> bool:
        po = self.po_line
        return bool(po and self.unit_price is not None and self.unit_price > po.unit_price)

    @property
    def quantity_over_received(self) -> bool:
        po = self.po_line
        return bool(po and self.quantity is not None and self.quantity > po.quantity_received)

    @property
    def quantity_over_ordered(self) -> bool:
        po = self.po_line
        return bool(po and self.quantity is not None and self.quantity > po.quantity)


def side_by_side(canonical: dict[str, Any] | None, order: PurchaseOrder | None) -> list[LineRow]:
    """One row per invoice line, with the PO line it names (None when it names none we know)."""
    if not canonical:
        return []
    by_number = {line.line_number: line for line in order.lines} if order else {}
    return [_row(line, by_number) for line in canonical.get("lines", [])]


def _row(line: dict[str, Any], by_number: dict[int, PurchaseOrderLine]) -> LineRow:
    po_line = str(line.get("po_line") or "").strip()
    return LineRow(
        line_id=str(line.get("line_id", "")),
        description=str(line.get("description") or ""),
        quantity=to_decimal(line.get("quantity")),
        unit_price=to_decimal(line.get("unit_price")),
        amount=to_decimal(line.get("line_extension_amount")),
        po_line=by_number.get(int(po_line)) if po_line.isdigit() else None,
    )
