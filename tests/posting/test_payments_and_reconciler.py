"""Payment sync against the real mock ERP (its admin mark-paid drives it): PAID with date and
reference, which the supplier reads. The reconciler: a document stuck with no live job is sent
on again, audited; one whose job is queued, or parked with a person, is left alone."""

from __future__ import annotations

import datetime as dt

from rq import Queue
from sqlalchemy import select, update

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.documents.models import Document, DocumentState
from app.jobs import ERP_QUEUE, redis_connection
from app.posting import payments, reconciler
from app.posting.models import PostingAttempt, ReconcileRun
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.intake.helpers import bearer, document
from tests.posting.conftest import run_erp_jobs, validated_invoice


def posted_invoice(client, lakeside, portal_erp) -> tuple[int, int]:
    document_id = validated_invoice(client, lakeside, portal_erp.client())
    run_erp_jobs()
    assert document(document_id).state is DocumentState.POSTED
    attempt = db.session.scalar(
        select(PostingAttempt).where(PostingAttempt.document_id == document_id)
    )
    return document_id, attempt.erp_ap_invoice_id


def test_a_paid_invoice_becomes_paid_with_date_and_reference(
    client, lakeside, portal_erp, settings
):
    unpaid, _ = posted_invoice(client, lakeside, portal_erp)
    paid, ap_invoice_id = posted_invoice(client, lakeside, portal_erp)
    answer = portal_erp.admin(
        "POST",
        f"/admin/ap-invoices/{ap_invoice_id}/pay",
        {"reference": "ACH-7731", "date": "2026-12-01"},
    )
    assert answer.status_code == 200, answer.text
    assert payments.sync_due(utcnow()) == 1
    found = document(paid)
    assert found.state is DocumentState.PAID
    assert (found.paid_on, found.payment_reference) == (dt.date(2026, 12, 1), "ACH-7731")
    assert found.timeline[-1].reason == "paid on 2026-12-01, reference ACH-7731"
    assert document(unpaid).state is DocumentState.POSTED
    shown = client.get(f"/api/v1/documents/{paid}", headers=bearer(lakeside)).json
    assert shown["state"] == "PAID"
    assert shown["payment"] == {"paid_on": "2026-12-01", "reference": "ACH-7731"}
    # Asked a moment ago: the next sweep leaves it alone until PAYMENT_SYNC_MINUTES pass.
    assert payments.sync_due(utcnow()) == 0


def test_the_supplier_reads_when_and_how_it_was_paid(client, lakeside, portal_erp, settings):
    document_id, ap_invoice_id = posted_invoice(client, lakeside, portal_erp)
    UserFactory(email="sam@lakeside.example", role__organization=lakeside)
    login(client, "sam@lakeside.example", PASSWORD)
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Posted to the hospital&#39;s ledger" in page
    portal_erp.admin(
        "POST",
        f"/admin/ap-invoices/{ap_invoice_id}/pay",
        {"reference": "CHK-9", "date": "2026-12-02"},
    )
    payments.sync_due(utcnow())
    db.session.flush()
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Paid on 2026-12-02, reference CHK-9." in page


def make_stale(document_id: int, seconds: int = 3600) -> None:
    db.session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(updated_at=utcnow() - dt.timedelta(seconds=seconds))
    )


def erp_queue() -> Queue:
    return Queue(ERP_QUEUE, connection=redis_connection())


def test_a_stuck_validated_invoice_is_sent_on_with_an_audit_entry(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    erp_queue().empty()  # the post job was lost (Redis flushed, say)
    make_stale(document_id)
    run = reconciler.reconcile(trigger="cli")
    assert run.requeued == [document_id]
    assert erp_queue().job_ids == [f"post-{document_id}"]
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "document.reconciled"))
    assert audit.target_id == str(document_id)
    assert reconciler.last_run().requeued == [document_id]
    run_erp_jobs()
    assert document(document_id).state is DocumentState.POSTED


def test_a_document_with_a_live_job_or_parked_with_a_person_is_left_alone(
    client, lakeside, fake_portal_erp, settings
):
    from app.documents.transitions import transition

    queued = validated_invoice(client, lakeside, fake_portal_erp)  # its post job is queued
    held = validated_invoice(client, lakeside, fake_portal_erp)
    transition(document(held), DocumentState.ON_HOLD, "finance", "held by hand")
    fresh = validated_invoice(client, lakeside, fake_portal_erp)
    erp_queue().remove(f"post-{fresh}")
    for document_id in (queued, held):
        make_stale(document_id)
    assert reconciler.reconcile(trigger="cli").requeued == []


def test_a_posting_whose_worker_died_is_reconciled_and_looked_up(
    client, lakeside, fake_portal_erp, settings
):
    from app.posting import services

    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    erp_queue().empty()
    claim, _ = services.claim_attempt(document_id)  # then the worker was killed
    db.session.execute(
        update(PostingAttempt)
        .where(PostingAttempt.id == claim.attempt_id)
        .values(lease_until=utcnow() - dt.timedelta(seconds=1))
    )
    make_stale(document_id)
    assert reconciler.reconcile(trigger="schedule").requeued == [document_id]
    run_erp_jobs()
    assert document(document_id).state is DocumentState.POSTED
    assert [c.method for c in fake_portal_erp.calls][-2:] == [
        "find_ap_invoice",
        "create_ap_invoice",
    ]


def test_the_reconcile_command_runs_with_the_sweep_and_by_hand(app, settings):
    result = app.test_cli_runner().invoke(args=["documents", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "checked 0, re-enqueued 0" in result.output
    from app.documents import sweeper

    done = sweeper.housekeeping()
    assert {"reconciled", "synced_payments"} <= set(done)
    runs = db.session.scalars(select(ReconcileRun.trigger).order_by(ReconcileRun.id)).all()
    assert runs == ["cli", "schedule"]


def test_a_document_whose_job_keeps_failing_is_left_for_ops(
    client, lakeside, fake_portal_erp, settings, monkeypatch
):
    monkeypatch.setitem(settings, "RECONCILE_MAX_RESENDS", 2)
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    make_stale(document_id)
    sent = []
    for _ in range(3):
        erp_queue().empty()  # the job was lost (or failed) again
        sent.append(reconciler.reconcile(trigger="schedule").requeued)
    assert sent == [[document_id], [document_id], []]
