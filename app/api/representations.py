"""How documents and purchase orders look on the wire: plain dicts, money as strings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import url_for

from app.documents.models import Document, DocumentEvent
from app.documents.transitions import Received, outside_label, outside_reason
from app.erp.interface import PurchaseOrder
from app.holds.models import Question
from app.matching.models import Hold
from app.matching.settlement import settlement


def _number(value: Decimal | None) -> str | None:
    """Without the trailing zeros the database's fixed scale adds: 10.000000 → "10"."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(value: Decimal | None) -> str | None:
    """At least two decimals, as amounts are printed: 100.000000 → "100.00"."""
    text = _number(value)
    if text is None:
        return None
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def document_href(document_id: int) -> str:
    return url_for("partner_api.get_document", document_id=document_id)


def accepted_document(document: Received) -> dict[str, Any]:
    return {
        "id": document.id,
        "kind": document.kind.value,
        "state": document.state.value,
        "identity": document.identity,
        "href": document_href(document.id),
    }


def document_summary(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "kind": document.kind.value,
        "state": document.state.value,
        "document_number": document.document_number,
        "po_number": document.po_number,
        "currency": document.currency,
        "total_amount": _money(document.total_amount),
        "supplier_id": document.supplier_org_id,
        "sender_id": document.sender_org_id,
        "source_format": document.source_format,
        "received_at": _time(document.created_at),
        "updated_at": _time(document.updated_at),
        "href": document_href(document.id),
    }


def timeline_entry(event: DocumentEvent) -> dict[str, Any]:
    return {
        "at": _time(event.at),
        "from_state": event.from_state.value if event.from_state else None,
        "state": event.to_state.value,
        "by": outside_label(event),
        "reason": outside_reason(event),
    }


def document_detail(
    document: Document, holds: Sequence[Hold], questions: Sequence[Question] = ()
) -> dict[str, Any]:
    return {
        **document_summary(document),
        "identity": document.identity,
        "parser_version": document.parser_version,
        "correlation_id": document.correlation_id,
        "errors": document.errors,
        "timeline": [timeline_entry(event) for event in document.timeline],
        "holds": [supplier_hold(hold) for hold in holds],
        "questions": [question(asked, document.id) for asked in questions],
        "payment": _payment(document),
        "document": document.canonical,
    }


def _payment(document: Document) -> dict[str, Any] | None:
    """When and how the hospital paid the invoice, once payment sync saw it paid."""
    if document.paid_on is None:
        return None
    return {"paid_on": document.paid_on.isoformat(), "reference": document.payment_reference}


def supplier_hold(hold: Hold) -> dict[str, Any]:
    """A hold as its supplier may see it: the plain message, never finance's wording."""
    return {
        "code": hold.code.value,
        "status": hold.status.value,
        "message": hold.supplier_message,
        "line": hold.line,
        "settlement": _settlement(hold),
    }


def _settlement(hold: Hold) -> dict[str, Any] | None:
    """A disputed line accepted after its invoice was booked: booked on its own, and paid."""
    found = settlement(hold)
    if found is None:
        return None
    return {
        "state": found.state,
        "paid_on": found.paid_on.isoformat() if found.paid_on else None,
        "reference": found.reference,
    }


def question(asked: Question, document_id: int) -> dict[str, Any]:
    """A question finance asked the supplier, as the supplier reads it (never who asked)."""
    return {
        "id": asked.id,
        "question": asked.question,
        "asked_at": _time(asked.asked_at),
        "answered": not asked.waiting,
        "answer": asked.answer,
        "answered_at": _time(asked.answered_at),
        "answer_href": url_for(
            "partner_api.answer_question", document_id=document_id, question_id=asked.id
        ),
    }


def purchase_order(order: PurchaseOrder, supplier_id: int) -> dict[str, Any]:
    return {
        "number": order.number,
        "supplier_id": supplier_id,
        "vendor_number": order.vendor_number,
        "status": order.status,
        "currency": order.currency,
        "order_date": order.order_date.isoformat(),
        "facility_code": order.facility_code,
        "cost_centre": order.cost_centre,
        "buyer_email": order.buyer_email,
        "total_amount": _money(order.total_amount),
        "lines": [
            {
                "line_number": line.line_number,
                "item_number": line.item_number,
                "description": line.description,
                "unit": line.uom,
                "quantity": _number(line.quantity),
                "quantity_received": _number(line.quantity_received),
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
                "need_by_date": line.need_by_date.isoformat(),
            }
            for line in order.lines
        ],
    }
