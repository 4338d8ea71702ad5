"""A goods receipt the ERP reports re-checks the held invoices on its PO at once: the portal
follows the mock ERP's event feed (its cursor kept in the database), so a late receipt releases
a QTY_RECEIVED hold with a timeline entry without waiting for the scheduled re-check."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.documents.models import DocumentState
from app.matching.findings import HoldCode
from app.matching.models import ErpCursor
from app.matching.receipts import CURSOR, RECEIPT_ACTOR, follow_receipts
from app.matching.services import revalidate_due
from app.pipeline import HOUSEKEEPING
from tests.intake.helpers import document, run_jobs
from tests.matching.test_recheck import bill_first_line, open_codes, receive, waiting_po
from tests.matching.test_validate import lakeside, send  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_erp(mock_erp):
    yield
    mock_erp.reset()  # receipts were added to the shared mock ERP


def cursor() -> int:
    return db.session.scalar(select(ErpCursor.position).where(ErpCursor.name == CURSOR)) or 0


def test_a_late_receipt_releases_the_hold_at_once(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "EV-1"))
    run_jobs()
    assert open_codes(document_id) == {HoldCode.QTY_RECEIVED}
    follow_receipts(utcnow())  # reads what the feed holds so far
    assert document(document_id).state is DocumentState.ON_HOLD

    receive(portal_erp, order, 2)
    assert revalidate_due(utcnow()) == 0  # the schedule would not look at it yet
    assert follow_receipts(utcnow()) == 1
    found = document(document_id)
    assert found.state is DocumentState.VALIDATED
    assert open_codes(document_id) == set()
    last = found.timeline[-1]
    assert (last.actor_label, last.reason) == (RECEIPT_ACTOR, "re-checked: QTY_RECEIVED now pass")


def test_the_cursor_moves_on_and_an_event_is_read_once(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    follow_receipts(utcnow())
    start = cursor()
    receive(portal_erp, order, 1)
    follow_receipts(utcnow())
    assert cursor() == start + 1
    assert follow_receipts(utcnow()) == 0
    assert cursor() == start + 1


def test_with_the_erp_down_the_cursor_stays(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "EV-3"))
    run_jobs()
    follow_receipts(utcnow())
    start = cursor()
    receive(portal_erp, order, 2)
    portal_erp.set_faults(error_rate=1.0)
    try:
        assert follow_receipts(utcnow()) == 0
    finally:
        portal_erp.clear_faults()
    assert cursor() == start
    assert document(document_id).state is DocumentState.ON_HOLD
    assert follow_receipts(utcnow()) == 1
    assert document(document_id).state is DocumentState.VALIDATED


def test_every_sweep_follows_the_receipts():
    assert HOUSEKEEPING["receipts_followed"] == "app.matching.receipts.follow_receipts"
