"""Posting a VALIDATED invoice to the ERP: booked once, an unknown outcome resolved by a lookup
(both ways), a business refusal held for finance, exhausted retries DEAD with the payload kept,
and a held invoice never sent."""

from __future__ import annotations

from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.db import db
from app.documents.models import DocumentState
from app.erp.errors import ErpRejected, ErpUnavailable
from app.jobs import ERP_QUEUE, redis_connection
from app.matching.findings import HoldCode, Severity
from app.matching.models import Hold, HoldStatus
from app.posting import services
from app.posting.models import AttemptState, PostingAttempt
from tests.intake.helpers import document
from tests.posting.conftest import run_erp_jobs, validated_invoice


def attempts(document_id: int) -> list[PostingAttempt]:
    db.session.expire_all()
    query = select(PostingAttempt).where(PostingAttempt.document_id == document_id)
    return list(db.session.scalars(query.order_by(PostingAttempt.attempt_no)))


def erp_methods(fake) -> list[str]:
    return [
        call.method
        for call in fake.calls
        if call.method in ("create_ap_invoice", "find_ap_invoice")
    ]


def timeout() -> ErpUnavailable:
    return ErpUnavailable("The ERP did not answer in time.", reason="read_timeout")


# -- against the real mock ERP ---------------------------------------------------------------


def test_a_validated_invoice_is_booked_once_in_the_erp(client, lakeside, portal_erp, settings):
    document_id = validated_invoice(client, lakeside, portal_erp.client())
    assert run_erp_jobs() == 1
    found = document(document_id)
    assert found.state is DocumentState.POSTED
    [attempt] = attempts(document_id)
    assert attempt.state is AttemptState.POSTED
    assert attempt.idempotency_key == f"invoice-{document_id}"
    booked = portal_erp.client().find_ap_invoice("V1001", found.document_number)
    assert booked is not None
    assert booked.id == attempt.erp_ap_invoice_id
    assert [e.to_state.value for e in found.timeline][-2:] == ["POSTING", "POSTED"]
    # The same job again sends nothing.
    assert services.post(document_id) == "POSTED"
    assert len(attempts(document_id)) == 1


def test_a_timeout_after_the_erp_booked_it_is_resolved_by_lookup(
    client, lakeside, portal_erp, settings, app
):
    erp = portal_erp.client(read_timeout=0.3)
    document_id = validated_invoice(client, lakeside, erp)
    from app.erp import set_erp

    set_erp(app, erp)
    portal_erp.set_faults(latency_ms=800)  # answers too late, but books it all the same
    assert services.post(document_id) == "retry"
    first = attempts(document_id)[0]
    assert first.state is AttemptState.UNKNOWN
    portal_erp.clear_faults()
    assert services.post(document_id) == "posted"
    first, second = attempts(document_id)
    assert second.state is AttemptState.POSTED
    assert second.resolved_by == "lookup"
    assert document(document_id).state is DocumentState.POSTED
    number = document(document_id).document_number
    listed = portal_erp.client().find_ap_invoice("V1001", number)
    assert listed is not None
    assert listed.id == second.erp_ap_invoice_id


def test_503_with_retry_after_waits_at_least_that_long(client, lakeside, portal_erp, settings):
    document_id = validated_invoice(client, lakeside, portal_erp.client())
    portal_erp.set_faults(unavailable=True, retry_after=7)
    assert services.post(document_id) == "retry"
    [attempt] = attempts(document_id)
    assert attempt.state is AttemptState.FAILED  # the ERP said it did nothing
    assert (attempt.retry_at - attempt.finished_at).total_seconds() >= 7
    # A resend before then (the sweeper's, say) does not call the ERP.
    portal_erp.clear_faults()
    assert services.post(document_id) == "waiting"
    assert len(attempts(document_id)) == 1


def test_retries_exhausted_end_dead_with_the_reason_and_the_payload(
    client, lakeside, portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, portal_erp.client())
    portal_erp.set_faults(error_rate=1.0)
    results = [services.post(document_id) for _ in range(3)]
    assert results == ["retry", "retry", "dead"]
    assert services.post(document_id) == "DEAD"  # nothing more is sent
    found = document(document_id)
    assert found.state is DocumentState.DEAD
    assert "gave up after 3 attempts" in found.timeline[-1].reason
    tried = attempts(document_id)
    assert [a.state for a in tried] == [AttemptState.FAILED] * 3
    assert "500" in tried[-1].error
    assert tried[-1].payload["invoice_number"] == found.document_number


# -- unit tests on the recording fake --------------------------------------------------------


def test_unknown_outcome_found_by_lookup_is_posted_without_a_second_create(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(timeout(), "create_ap_invoice")
    assert services.post(document_id) == "retry"
    [unknown] = attempts(document_id)
    assert unknown.state is AttemptState.UNKNOWN
    # The ERP had booked it before the connection dropped.
    booked = fake_portal_erp.create_ap_invoice(unknown.payload, unknown.idempotency_key)
    fake_portal_erp.calls.clear()
    assert services.post(document_id) == "posted"
    assert erp_methods(fake_portal_erp) == ["find_ap_invoice"]
    assert attempts(document_id)[-1].erp_ap_invoice_id == booked.id
    assert len(fake_portal_erp.ap_invoices) == 1


def test_unknown_outcome_not_found_is_sent_again_with_the_same_key(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(timeout(), "create_ap_invoice")
    services.post(document_id)
    fake_portal_erp.calls.clear()
    assert services.post(document_id) == "posted"
    assert erp_methods(fake_portal_erp) == ["find_ap_invoice", "create_ap_invoice"]
    first, second = attempts(document_id)
    assert first.idempotency_key == second.idempotency_key == f"invoice-{document_id}"
    assert fake_portal_erp.calls_to("create_ap_invoice")[0].args[1] == first.idempotency_key
    assert len(fake_portal_erp.ap_invoices) == 1


def test_a_worker_lost_mid_call_leaves_an_unknown_outcome_that_is_looked_up(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    claim, _ = services.claim_attempt(document_id)  # a worker claimed it, then died
    assert services.post(document_id) == "busy"  # its lease still runs
    # A job comes back when the lease ends, in case the claiming worker is dead.
    scheduled = ScheduledJobRegistry(queue=Queue(ERP_QUEUE, connection=redis_connection()))
    assert f"post-{document_id}-lease-1" in scheduled.get_job_ids()
    attempt = db.session.get(PostingAttempt, claim.attempt_id)
    attempt.lease_until = attempt.started_at
    db.session.flush()
    assert services.post(document_id) == "posted"
    first, _second = attempts(document_id)
    assert (first.state, first.resolved_by) == (AttemptState.UNKNOWN, "lease")
    assert erp_methods(fake_portal_erp) == ["find_ap_invoice", "create_ap_invoice"]


def test_a_422_becomes_an_erp_rejected_hold_with_the_erps_reason(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(
        ErpRejected("PO_CLOSED", "Purchase order PO-1 is closed."), "create_ap_invoice"
    )
    assert services.post(document_id) == "held"
    assert document(document_id).state is DocumentState.ON_HOLD
    [hold] = db.session.scalars(select(Hold).where(Hold.document_id == document_id)).all()
    assert hold.code is HoldCode.ERP_REJECTED
    assert hold.status is HoldStatus.OPEN
    assert "PO_CLOSED: Purchase order PO-1 is closed." in hold.finance_message
    assert attempts(document_id)[0].state is AttemptState.REJECTED


def test_after_a_rejection_is_released_the_invoice_is_sent_with_a_new_key(
    client, lakeside, fake_portal_erp, settings
):
    from app.documents.transitions import transition
    from app.matching.models import release_open

    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(ErpRejected("PO_CLOSED", "closed"), "create_ap_invoice")
    services.post(document_id)
    hold = db.session.scalar(select(Hold).where(Hold.document_id == document_id))
    release_open([hold.id], "reopened the PO")
    transition(document(document_id), DocumentState.VALIDATED, "finance", "released")
    assert services.post(document_id) == "posted"
    assert attempts(document_id)[-1].idempotency_key == f"invoice-{document_id}-1"


def test_a_held_invoice_is_never_posted(client, lakeside, fake_portal_erp, settings):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    # Finance holds it after validation, while its post job is still queued.
    db.session.add(
        Hold(
            document_id=document_id,
            code=HoldCode.BANK_DETAILS,
            severity=Severity.HOLD,
            finance_message="bank details changed",
            supplier_message="in review",
        )
    )
    db.session.flush()
    fake_portal_erp.calls.clear()
    assert run_erp_jobs() == 1
    assert document(document_id).state is DocumentState.VALIDATED
    assert attempts(document_id) == []
    assert erp_methods(fake_portal_erp) == []


def test_an_invoice_on_hold_is_not_posted(client, lakeside, fake_portal_erp, settings):
    from app.documents.transitions import transition

    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    transition(document(document_id), DocumentState.ON_HOLD, "finance", "held by hand")
    fake_portal_erp.calls.clear()
    assert services.post(document_id) == "ON_HOLD"
    assert erp_methods(fake_portal_erp) == []


def test_a_recheck_never_releases_an_erp_rejected_hold(client, lakeside, fake_portal_erp, settings):
    from app.matching.services import revalidate

    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(ErpRejected("PO_CLOSED", "closed"), "create_ap_invoice")
    services.post(document_id)
    # Every rule passes on a re-check, but only a person may release what the ERP refused.
    assert revalidate(document(document_id)) is DocumentState.ON_HOLD
    hold = db.session.scalar(select(Hold).where(Hold.document_id == document_id))
    assert hold.status is HoldStatus.OPEN
