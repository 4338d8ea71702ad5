"""`seed-demo` against the mock ERP shows the end of the pipeline too: a PAID invoice and one
DEAD waiting for replay, made through the real posting path; the other clean ones are posted
by the worker."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db, unit_of_work
from app.demo import seed_demo
from app.documents.models import Document, DocumentState
from tests.intake.helpers import run_jobs
from tests.posting.conftest import run_erp_jobs


def test_the_demo_has_posted_paid_and_dead_invoices(app, portal_erp, monkeypatch):
    monkeypatch.setitem(app.config, "MOCK_ERP_ADMIN_KEY", portal_erp.admin_key)
    # The demo's invoice numbers are fixed: an earlier seed in this session (the matching
    # suite's) may have booked them in the shared mock ERP already.
    portal_erp.reset()
    with unit_of_work():
        seed_demo()
    run_jobs()
    run_erp_jobs()
    states = dict(
        db.session.execute(select(Document.state, func.count()).group_by(Document.state)).all()
    )
    assert states.get(DocumentState.PAID) == 1
    assert states.get(DocumentState.DEAD) == 1
    assert states.get(DocumentState.POSTED, 0) >= 2
    paid = db.session.scalar(select(Document).where(Document.state == DocumentState.PAID))
    assert paid.payment_reference == "ACH-DEMO-1"
    assert portal_erp.admin("GET", "/admin/faults").json()["error_rate"] == 0.0
