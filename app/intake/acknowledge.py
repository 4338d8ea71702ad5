"""Turn the supplier's answers on a purchase order's page into a canonical acknowledgment (v1):
per PO line accept, reject, or change its quantity, price or delivery date. Pure: the result
goes through the same intake, normalization and acknowledgment matching as an uploaded one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.erp.interface import PurchaseOrder, PurchaseOrderLine
from app.intake.flip import FlipSupplier

ACCEPT, REJECT, CHANGE = "accept", "reject", "change"


@dataclass(frozen=True)
class LineAnswer:
    """What the supplier says about one PO line; the figures matter only for a change."""

    po_line: int
    answer: str
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    delivery_date: dt.date | None = None
    reason: str | None = None


class AcknowledgeError(ValueError):
    pass


def acknowledgment_from_po(
    order: PurchaseOrder,
    answers: list[LineAnswer],
    *,
    supplier: FlipSupplier,
    ack_number: str,
    issue_date: dt.date,
    note: str | None = None,
) -> dict[str, Any]:
    """The canonical acknowledgment for `answers` on `order`, as a JSON-ready mapping."""
    by_number = {line.line_number: line for line in order.lines}
    lines = [_line(_po_line(by_number, order, answer.po_line), answer) for answer in answers]
    if not lines:
        raise AcknowledgeError("answer at least one line")
    ack: dict[str, Any] = {
        "schema_version": "1",
        "ack_number": ack_number,
        "po_number": order.number,
        "issue_date": issue_date.isoformat(),
        "status": _status([line["status"] for line in lines]),
        "currency": order.currency,
        "supplier": _supplier(supplier),
        "lines": lines,
    }
    if note:
        ack["notes"] = [note]
    return ack


def _po_line(
    by_number: dict[int, PurchaseOrderLine], order: PurchaseOrder, number: int
) -> PurchaseOrderLine:
    if number not in by_number:
        raise AcknowledgeError(f"purchase order {order.number} has no line {number}")
    return by_number[number]


def _status(answers: list[str]) -> str:
    if all(answer == ACCEPT for answer in answers):
        return "accepted"
    if all(answer == REJECT for answer in answers):
        return "rejected"
    return "accepted_with_changes"


def _line(po_line: PurchaseOrderLine, answer: LineAnswer) -> dict[str, Any]:
    line: dict[str, Any] = {
        "po_line": str(po_line.line_number),
        "status": answer.answer,
        "description": po_line.description,
        "buyer_item_id": po_line.item_number,
        "unit_code": po_line.uom,
        "original_quantity": str(po_line.quantity),
        "original_unit_price": str(po_line.unit_price),
        "original_delivery_date": po_line.need_by_date.isoformat(),
    }
    if answer.answer == CHANGE:
        line.update(_changes(po_line, answer))
    elif answer.answer not in (ACCEPT, REJECT):
        raise AcknowledgeError(f"line {po_line.line_number}: unknown answer {answer.answer!r}")
    if answer.answer != ACCEPT and not answer.reason:
        raise AcknowledgeError(f"line {po_line.line_number}: say why you {answer.answer} it")
    if answer.reason:
        line["reason"] = answer.reason
    return line


def _changes(po_line: PurchaseOrderLine, answer: LineAnswer) -> dict[str, str]:
    """Only what differs from the PO: a change that changes nothing is refused."""
    changed: dict[str, str] = {}
    if answer.quantity is not None and answer.quantity != po_line.quantity:
        if answer.quantity < 0:
            raise AcknowledgeError(f"line {po_line.line_number}: quantity cannot be negative")
        changed["changed_quantity"] = str(answer.quantity)
    if answer.unit_price is not None and answer.unit_price != po_line.unit_price:
        if answer.unit_price < 0:
            raise AcknowledgeError(f"line {po_line.line_number}: price cannot be negative")
        changed["changed_unit_price"] = str(answer.unit_price)
    if answer.delivery_date is not None and answer.delivery_date != po_line.need_by_date:
        changed["changed_delivery_date"] = answer.delivery_date.isoformat()
    if not changed:
        raise AcknowledgeError(
            f"line {po_line.line_number}: a change needs a new quantity, price or date"
        )
    return changed


def _supplier(supplier: FlipSupplier) -> dict[str, Any]:
    party: dict[str, Any] = {"name": supplier.name, "portal_id": str(supplier.portal_id)}
    if supplier.erp_vendor_number:
        party["erp_vendor_number"] = supplier.erp_vendor_number
    return party
