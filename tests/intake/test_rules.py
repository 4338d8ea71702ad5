"""The state table, the pipeline table, the PO flip and the cursor: pure rules, no requests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.queries import BadCursorError, decode_cursor, encode_cursor
from app.documents.transitions import (
    ALLOWED,
    TERMINAL,
    InvalidTransition,
    can_transition,
    transition,
)
from app.erp.fake import RecordingErp
from app.intake import flip
from app.pipeline import FLOW, event_name, next_step

pytestmark = pytest.mark.no_db

S = DocumentState


def _doc(kind=DocumentKind.INVOICE, state=S.RECEIVED) -> Document:
    return Document(id=1, kind=kind, state=state)


def test_every_state_is_in_the_table_and_terminal_states_lead_nowhere():
    assert set(ALLOWED) == set(DocumentState)
    assert {S.PAID, S.APPLIED, S.REJECTED} == TERMINAL


@pytest.mark.parametrize(
    ("kind", "state", "to", "allowed"),
    [
        (DocumentKind.INVOICE, S.RECEIVED, S.NORMALIZED, True),
        (DocumentKind.INVOICE, S.RECEIVED, S.REJECTED, True),
        (DocumentKind.INVOICE, S.RECEIVED, S.POSTED, False),
        (DocumentKind.INVOICE, S.NORMALIZED, S.RECEIVED, False),
        (DocumentKind.INVOICE, S.REJECTED, S.NORMALIZED, False),
        (DocumentKind.INVOICE, S.VALIDATED, S.APPLIED, False),
        (DocumentKind.ACKNOWLEDGMENT, S.VALIDATED, S.APPLIED, True),
        (DocumentKind.ACKNOWLEDGMENT, S.VALIDATED, S.POSTING, False),
    ],
)
def test_transitions_follow_the_table_and_the_kind(kind, state, to, allowed):
    assert can_transition(_doc(kind, state), to) is allowed


def test_a_refused_transition_changes_nothing():
    document = _doc(state=S.REJECTED)
    with pytest.raises(InvalidTransition):
        transition(document, S.NORMALIZED, "system", "again")
    assert document.state is S.REJECTED


def test_the_pipeline_sends_a_received_document_to_normalize():
    step = next_step(event_name("RECEIVED"), "invoice")
    assert step is not None
    assert step.command == "normalize"
    assert step.job_id(42) == "normalize-42"
    assert next_step(event_name("REJECTED"), "invoice") is None
    assert all(key.startswith("document.") for key in FLOW)


def test_a_normalized_invoice_goes_to_validate_and_an_acknowledgment_to_its_matching():
    step = next_step(event_name("NORMALIZED"), "invoice")
    assert step is not None
    assert step.job_id(7) == "validate-7"
    ack_step = next_step(event_name("NORMALIZED"), "acknowledgment")
    assert ack_step is not None
    assert ack_step.job_id(7) == "match_ack-7"


def test_a_validated_acknowledgment_is_applied_to_the_erp():
    step = next_step(event_name("VALIDATED"), "acknowledgment")
    assert step is not None
    assert step.job_id(9) == "apply_ack-9"
    assert next_step(event_name("APPLIED"), "acknowledgment") is None


# -- PO flip ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def order():
    erp = RecordingErp()
    return next(po for po in erp.purchase_orders.values() if len(po.lines) >= 2)


SUPPLIER = flip.FlipSupplier(7, "Acme Medical", "V1006")


def test_flip_builds_a_canonical_invoice_with_po_references_and_totals(order):
    first, second = order.lines[0], order.lines[1]
    invoice = flip.invoice_from_po(
        order,
        [
            flip.FlipLine(first.line_number, Decimal("3"), Decimal("1.005")),
            flip.FlipLine(second.line_number, Decimal("1"), second.unit_price),
        ],
        supplier=SUPPLIER,
        invoice_number="F-1",
        issue_date=dt.date(2026, 3, 1),
        tax_total=Decimal("0.50"),
        note="thanks",
    )
    line_total = Decimal("3.02") + second.unit_price.quantize(Decimal("0.01"))
    assert invoice["lines"][0]["line_extension_amount"] == "3.02"  # half up, to the cent
    assert invoice["totals"]["line_total"] == str(line_total)
    assert Decimal(invoice["totals"]["payable"]) == line_total + Decimal("0.50")
    assert invoice["supplier"] == {
        "name": "Acme Medical",
        "portal_id": "7",
        "erp_vendor_number": "V1006",
    }
    assert {line["po_number"] for line in invoice["lines"]} == {order.number}
    assert invoice["notes"] == ["thanks"]
    assert invoice["currency"] == order.currency


@pytest.mark.parametrize(
    "lines",
    [[], [flip.FlipLine(999, Decimal(1), Decimal(1))], [flip.FlipLine(1, Decimal(0), Decimal(1))]],
    ids=["none", "not-on-po", "zero-quantity"],
)
def test_flip_refuses_what_cannot_be_invoiced(order, lines):
    with pytest.raises(flip.FlipError):
        flip.invoice_from_po(
            order, lines, supplier=SUPPLIER, invoice_number="F", issue_date=dt.date(2026, 1, 1)
        )


# -- cursor ----------------------------------------------------------------------------------


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    document = Document(id=12, updated_at=dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC))
    assert decode_cursor(encode_cursor(document)) == (document.updated_at, 12)
    for bad in ("", "!!!", "WzEsMl0", "bm90IGpzb24"):
        with pytest.raises(BadCursorError):
            decode_cursor(bad)
