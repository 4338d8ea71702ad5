"""Turn an open purchase order into a canonical JSON invoice ("PO flip"): the supplier picks
lines and quantities, prices come from the PO unless the supplier changes them. Pure: the
result goes through the same intake and normalization as any other canonical JSON invoice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.erp.interface import PurchaseOrder, PurchaseOrderLine

CENT = Decimal("0.01")


@dataclass(frozen=True)
class FlipLine:
    po_line: int
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class FlipSupplier:
    portal_id: int
    name: str
    erp_vendor_number: str | None


class FlipError(ValueError):
    pass


def amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_from_po(
    order: PurchaseOrder,
    chosen: list[FlipLine],
    *,
    supplier: FlipSupplier,
    invoice_number: str,
    issue_date: dt.date,
    tax_total: Decimal = Decimal(0),
    note: str | None = None,
) -> dict[str, Any]:
    """The canonical invoice (v1) for `chosen` lines of `order`, as a JSON-ready mapping."""
    lines = [
        _line(index, order, _po_line(order, pick.po_line), pick)
        for index, pick in enumerate(chosen, 1)
    ]
    if not lines:
        raise FlipError("choose at least one line with a quantity above zero")
    line_total = sum((Decimal(line["line_extension_amount"]) for line in lines), Decimal(0))
    invoice: dict[str, Any] = {
        "schema_version": "1",
        "invoice_number": invoice_number,
        "issue_date": issue_date.isoformat(),
        "currency": order.currency,
        "supplier": _supplier(supplier),
        "ship_to": {"identifiers": [{"scheme": "facility", "value": order.facility_code}]},
        "po_number": order.number,
        "lines": lines,
        "totals": totals(line_total, tax_total),
    }
    if note:
        invoice["notes"] = [note]
    return invoice


def totals(line_total: Decimal, tax_total: Decimal) -> dict[str, str]:
    """The canonical totals of a document whose lines add up to `line_total`, plus its tax."""
    payable = line_total + tax_total
    return {
        "line_total": str(line_total),
        "tax_exclusive": str(line_total),
        "tax_total": str(tax_total),
        "tax_inclusive": str(payable),
        "payable": str(payable),
    }


def _po_line(order: PurchaseOrder, number: int) -> PurchaseOrderLine:
    for line in order.lines:
        if line.line_number == number:
            return line
    raise FlipError(f"purchase order {order.number} has no line {number}")


def _line(
    index: int, order: PurchaseOrder, po_line: PurchaseOrderLine, pick: FlipLine
) -> dict[str, Any]:
    if pick.quantity <= 0 or pick.unit_price < 0:
        raise FlipError(
            f"line {po_line.line_number}: quantity must be above zero, price not negative"
        )
    return {
        "line_id": str(index),
        "description": po_line.description,
        "buyer_item_id": po_line.item_number,
        "quantity": str(pick.quantity),
        "unit_code": po_line.uom,
        "unit_price": str(pick.unit_price),
        "line_extension_amount": str(amount(pick.quantity, pick.unit_price)),
        "po_number": order.number,
        "po_line": str(po_line.line_number),
    }


def _supplier(supplier: FlipSupplier) -> dict[str, Any]:
    party: dict[str, Any] = {"name": supplier.name, "portal_id": str(supplier.portal_id)}
    if supplier.erp_vendor_number:
        party["erp_vendor_number"] = supplier.erp_vendor_number
    return party
