"""`seed-demo` leaves a finance queue with work in it: invoices of the demo suppliers go through
the real pipeline against the mock ERP, some validated, the others held for several reasons."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db, unit_of_work
from app.demo import seed_demo
from app.documents.models import Document, DocumentKind, DocumentState
from app.matching.findings import HoldCode
from app.matching.models import Hold
from tests.intake.helpers import run_jobs


def test_the_demo_queue_holds_invoices_for_several_reasons(portal_erp):
    with unit_of_work():  # as the CLI command does: the jobs are sent once it commits
        seed_demo()
    run_jobs()
    states = dict(
        db.session.execute(select(Document.state, func.count()).group_by(Document.state)).all()
    )
    assert states.get(DocumentState.VALIDATED, 0) >= 3
    assert states.get(DocumentState.ON_HOLD, 0) >= 6
    codes = set(db.session.scalars(select(Hold.code)))
    assert {
        HoldCode.PRICE,
        HoldCode.QTY_RECEIVED,
        HoldCode.DUPLICATE,
        HoldCode.PO_NOT_FOUND,
    } <= codes
    acknowledgments = db.session.scalars(
        select(Document).where(Document.kind == DocumentKind.ACKNOWLEDGMENT)
    ).all()
    assert sorted(a.state.value for a in acknowledgments) == ["APPLIED", "ON_HOLD"]
    held = next(a for a in acknowledgments if a.state is DocumentState.ON_HOLD)
    assert set(db.session.scalars(select(Hold.code).where(Hold.document_id == held.id))) == {
        HoldCode.PRICE
    }
    before = db.session.scalar(select(func.count()).select_from(Document))
    seed_demo()  # again: nothing new
    assert db.session.scalar(select(func.count()).select_from(Document)) == before
    portal_erp.reset()  # an acknowledgment was applied to the shared mock ERP
