"""DEAD invoices replayed by ops (page, CLI, function) through the same idempotent path: an
invoice the ERP had booked before its worker gave up is found, never booked twice. The ops
pages: dead letters with why, the breaker and the reconciler."""

from __future__ import annotations

import datetime as dt

from rq import Queue
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.documents.models import DocumentState
from app.erp.errors import ErpUnavailable
from app.jobs import redis_connection
from app.orgs.roles import Role
from app.pipeline import NORMALIZE
from app.posting import reconciler, services
from app.posting.models import AttemptState, PostingAttempt
from app.posting.replay import replay
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.documents import DocumentFactory
from tests.intake.helpers import document
from tests.posting.conftest import run_erp_jobs, validated_invoice


def timeout() -> ErpUnavailable:
    return ErpUnavailable("The ERP did not answer in time.", reason="read_timeout")


def dead_invoice(client, lakeside, fake) -> int:
    """An invoice that went DEAD after three unknown outcomes, the ERP having in fact booked
    it at the last one."""
    document_id = validated_invoice(client, lakeside, fake)
    fake.fail_next(timeout(), "create_ap_invoice", times=3)
    assert [services.post(document_id) for _ in range(3)] == ["retry", "retry", "dead"]
    last = db.session.scalars(
        select(PostingAttempt).order_by(PostingAttempt.attempt_no.desc())
    ).first()
    fake.create_ap_invoice(last.payload, last.idempotency_key)  # it got there after all
    fake.calls.clear()
    return document_id


def test_replay_never_double_posts(client, lakeside, fake_portal_erp, settings):
    document_id = dead_invoice(client, lakeside, fake_portal_erp)
    assert replay([document_id], actor="ops@example.com", reason="ERP back") == [document_id]
    assert document(document_id).state is DocumentState.POSTING
    assert run_erp_jobs() == 1
    assert document(document_id).state is DocumentState.POSTED
    assert [c.method for c in fake_portal_erp.calls] == ["find_ap_invoice"]
    assert len(fake_portal_erp.ap_invoices) == 1
    # Replaying again is a no-op: it is no longer DEAD.
    assert replay([document_id], actor="ops@example.com", reason="again") == []
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "posting.replayed")
    ).all()
    assert [(a.target_id, a.details["reason"]) for a in audit] == [(str(document_id), "ERP back")]


def test_a_replay_that_fails_again_gets_a_fresh_set_of_attempts(
    client, lakeside, fake_portal_erp, settings
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fake_portal_erp.fail_next(timeout(), "create_ap_invoice", times=3)
    for _ in range(3):
        services.post(document_id)
    replay([document_id], actor="ops", reason="try again")
    fake_portal_erp.fail_next(timeout(), "find_ap_invoice")
    assert services.post(document_id) == "retry"  # not DEAD at once: the count restarted
    assert services.post(document_id) == "posted"
    states = db.session.scalars(
        select(PostingAttempt.state).order_by(PostingAttempt.attempt_no)
    ).all()
    assert states == [AttemptState.UNKNOWN] * 4 + [AttemptState.POSTED]


def ops_client(client):
    UserFactory(email="olive@hospital.example", role=Role.OPS)
    login(client, "olive@hospital.example", PASSWORD)
    return client


def test_ops_replay_many_dead_letters_from_the_page(client, lakeside, fake_portal_erp, settings):
    first = dead_invoice(client, lakeside, fake_portal_erp)
    second = dead_invoice(client, lakeside, fake_portal_erp)
    ops_client(client)
    page = client.get("/ops/dead-letters").get_data(as_text=True)
    assert "gave up after 3 attempts" in page
    assert "read_timeout: The ERP did not answer in time." in page
    assert f'value="{first}"' in page
    assert f'value="{second}"' in page
    answer = client.post(
        "/ops/dead-letters/replay",
        data={
            "document_ids": [first, second],
            "reason": "ERP fixed",
            "csrf_token": csrf_token(page),
        },
    )
    assert answer.status_code == 302
    assert document(first).state is DocumentState.POSTING
    assert document(second).state is DocumentState.POSTING
    assert "No dead letter" in client.get("/ops/dead-letters").get_data(as_text=True)


def test_a_replay_needs_a_reason_and_a_csrf_token(client, lakeside, fake_portal_erp, settings):
    document_id = dead_invoice(client, lakeside, fake_portal_erp)
    ops_client(client)
    page = client.get("/ops/dead-letters").get_data(as_text=True)
    no_reason = client.post(
        "/ops/dead-letters/replay",
        data={"document_ids": [document_id], "reason": "", "csrf_token": csrf_token(page)},
    )
    assert no_reason.status_code == 400
    forged = client.post(
        "/ops/dead-letters/replay", data={"document_ids": [document_id], "reason": "x"}
    )
    assert forged.status_code == 400
    assert document(document_id).state is DocumentState.DEAD


def test_the_posting_pages_are_for_ops_only(client):
    UserFactory(email="fin@hospital.example", role=Role.FINANCE_CLERK)
    login(client, "fin@hospital.example", PASSWORD)
    assert client.get("/ops/dead-letters").status_code == 403
    assert client.get("/ops/erp").status_code == 403


def test_the_erp_page_shows_the_breaker_and_the_reconcilers_last_run(client, app, settings):
    from app.posting import breaker, reconciler

    app.config["BREAKER_FAILURE_THRESHOLD"] = 1
    breaker.record_failure("ap-invoices", "connection_refused: The ERP refused the connection.")
    reconciler.reconcile(trigger="cli")
    db.session.flush()
    ops_client(client)
    page = client.get("/ops/erp").get_data(as_text=True)
    assert "badge-open" in page
    assert "connection_refused: The ERP refused the connection." in page
    assert "Documents looked at" in page


def test_the_erp_page_lists_what_the_reconciler_re_enqueued(client, app):
    """Two documents stuck with no job are sent on again and named, each linked to its trail;
    a third, whose job is still queued, is looked at but left alone."""
    long_ago = utcnow() - dt.timedelta(hours=1)
    stuck = [
        DocumentFactory(timeline=[(DocumentState.RECEIVED, long_ago)], updated_at=long_ago)
        for _ in range(3)
    ]
    queued = stuck.pop()
    Queue("default", connection=redis_connection()).enqueue(
        "math.floor", 1.5, job_id=NORMALIZE.job_id(queued.id)
    )
    run = reconciler.reconcile(trigger="cli")
    db.session.flush()
    assert sorted(run.requeued) == sorted(d.id for d in stuck)

    ops_client(client)
    page = client.get("/ops/erp").get_data(as_text=True)
    assert '<nav class="subnav" aria-label="Operations">' in page  # the ops pages' navigation
    requeued = page.split('id="requeued">')[1].split("</dd>")[0]
    assert requeued.startswith("2: ")
    for sent in stuck:
        assert f'<a href="/ops/documents/{sent.id}">#{sent.id}</a>' in requeued
    assert f"#{queued.id}<" not in requeued
    assert "<dt>Documents looked at</dt><dd>3</dd>" in page


def test_the_cli_replays_with_a_reason(app, client, lakeside, fake_portal_erp, settings):
    document_id = dead_invoice(client, lakeside, fake_portal_erp)
    result = app.test_cli_runner().invoke(
        args=["posting", "replay", str(document_id), "999999", "--reason", "ERP fixed"]
    )
    assert result.exit_code == 0, result.output
    assert f"replayed 1: [{document_id}]" in result.output
    assert "skipped (not DEAD invoices): [999999]" in result.output
    assert document(document_id).state is DocumentState.POSTING


def test_a_replay_links_back_to_the_dead_letter_it_came_from(
    client, lakeside, fake_portal_erp, settings
):
    document_id = dead_invoice(client, lakeside, fake_portal_erp)
    ops_client(client)
    page = client.get("/ops/dead-letters").get_data(as_text=True)
    assert f'href="/ops/documents/{document_id}"' in page  # the dead letter opens its document
    client.post(
        "/ops/dead-letters/replay",
        data={"document_ids": [document_id], "reason": "ERP fixed", "csrf_token": csrf_token(page)},
    )
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "posting.replayed")
    ).all()
    died = "gave up after 3 attempts: read_timeout: The ERP did not answer in time."
    assert entry.details == {"reason": "ERP fixed", "died_because": died}

    # The document's timeline names the replay (its audit entry), its reason and why it died.
    trail = client.get(f"/ops/documents/{document_id}").get_data(as_text=True)
    (replayed,) = [e for e in document(document_id).timeline if e.from_state is DocumentState.DEAD]
    assert replayed.actor_label == "olive@hospital.example"
    assert replayed.reason == (
        f"replay (audit entry #{entry.id}) of a dead letter ({died}): ERP fixed"
    )
    assert replayed.reason in trail
    assert f'href="/ops/audit?target=Document+{document_id}"' in trail

    # The dead-letters page lists the replay and links to the document, now on its way again.
    page = client.get("/ops/dead-letters").get_data(as_text=True)
    replays = page[page.index('id="replays"') :]
    assert f'href="/ops/documents/{document_id}"' in replays
    assert "ERP fixed" in replays
    assert "olive@hospital.example" in replays
    assert "badge-posting" in replays


def test_the_supplier_never_reads_the_erp_error_or_the_replay_note(
    app, client, lakeside, fake_portal_erp, settings
):
    """Why an invoice died and what ops wrote on its replay are the hospital's: the supplier's
    timeline (API and portal page) says it is delayed, then sent again."""
    from tests.intake.helpers import bearer

    document_id = dead_invoice(client, lakeside, fake_portal_erp)
    replay([document_id], actor="ops@example.com", reason="ERP vendor ticket INC-4411")
    timeline = client.get(f"/api/v1/documents/{document_id}", headers=bearer(lakeside)).json[
        "timeline"
    ]
    reasons = {entry["state"]: entry["reason"] for entry in timeline}
    assert reasons["DEAD"] == "delayed on our side: the hospital's team is on it"
    assert reasons["POSTING"] == "sent to the hospital's accounting system again"
    supplier = app.test_client()
    login(
        supplier, UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=lakeside).email, PASSWORD
    )
    page = supplier.get(f"/documents/{document_id}").get_data(as_text=True)
    for text in (str(timeline), page):
        assert "did not answer" not in text
        assert "INC-4411" not in text
        assert "audit entry" not in text
    assert "delayed on our side" in page


def test_every_ops_page_carries_the_ops_navigation_marking_where_you_are(client):
    ops_client(client)
    for path in ("/ops", "/ops/queues", "/ops/documents", "/ops/dead-letters", "/ops/erp", "/ops/health",
                 "/ops/audit"):  # fmt: skip
        page = client.get(path).get_data(as_text=True)
        nav = page[page.index('aria-label="Operations"') :]
        nav = nav[: nav.index("</nav>")]
        assert nav.count("<a ") == 8, path
        assert f'href="{path}" aria-current="page"' in nav, path
