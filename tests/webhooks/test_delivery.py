"""Real deliveries over HTTP to a receiver written with the `standardwebhooks` package: what it
gets and verifies, the delivery log, retries, 410, persistent failure, redelivery and replay."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.jobs import QUEUE_NAMES, redis_connection
from app.mail.models import DevMailMessage
from app.orgs.roles import Role
from app.webhooks import events, services
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import run_jobs
from tests.webhooks.conftest import endpoint_for


def _ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    delivery = services.ping(endpoint)
    db.session.commit()
    return delivery


def _reload(delivery: WebhookDelivery) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery.id)


def test_the_receiver_verifies_a_real_delivery_and_the_log_shows_the_attempt(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(200, b'{"thanks": true}')
    delivery = _ping(endpoint)

    assert run_jobs() == 1

    (got,) = receiver.received
    assert got.error is None, got.error
    assert got.verified["type"] == "webhook.test"
    assert got.headers["webhook-id"] == delivery.message_id
    delivery = _reload(delivery)
    assert delivery.status == DeliveryStatus.DELIVERED
    (attempt,) = delivery.attempts
    assert attempt.number == 1
    assert attempt.status_code == 200
    assert attempt.response_excerpt == '{"thanks": true}'
    assert 0 <= attempt.duration_ms < 10_000


def test_a_failed_attempt_is_logged_and_retried_after_the_first_backoff(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(500, b"x" * 2000)
    delivery = _ping(endpoint)
    before = utcnow()

    run_jobs()

    delivery = _reload(delivery)
    assert delivery.status == DeliveryStatus.PENDING
    assert before + dt.timedelta(seconds=4) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= utcnow() + dt.timedelta(seconds=6)
    (attempt,) = delivery.attempts
    assert attempt.status_code == 500
    assert attempt.response_excerpt == "x" * 500  # the first bytes only
    assert delivery.last_error == "answered 500"
    scheduled = ScheduledJobRegistry(queue=Queue("default", connection=redis_connection()))
    assert events.job_id(delivery.message_id, 1) in scheduled.get_job_ids()
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is not None


def test_retry_after_is_honoured(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(503, b"busy", Retry_After="600")
    delivery = _ping(endpoint)

    run_jobs()

    delivery = _reload(delivery)
    assert delivery.next_attempt_at >= utcnow() + dt.timedelta(seconds=590)


def test_a_job_that_comes_early_does_nothing(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(500)
    delivery = _ping(endpoint)
    run_jobs()
    from app.webhooks.tasks import deliver

    assert deliver(delivery.message_id) == "not due yet"
    assert len(receiver.received) == 1


def test_410_gone_disables_the_endpoint_and_tells_its_admins(receiver):
    org = OrganizationFactory(partner=True)
    admin = UserFactory(role=Role.PARTNER_ADMIN, role__organization=org)
    endpoint = endpoint_for(receiver, org)
    receiver.answer(410)
    delivery = _ping(endpoint)

    run_jobs()

    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert _reload(delivery).status == DeliveryStatus.FAILED
    mails = db.session.scalars(select(DevMailMessage)).all()
    assert any(m.is_for(admin.email) and endpoint.url in m.body for m in mails)
    # Events are no longer owed to it.
    assert events._subscribers("webhook.test", [org.id]) == []


def test_an_endpoint_failing_for_five_days_is_disabled(receiver):
    org = OrganizationFactory(supplier=True)
    admin = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=org)
    endpoint = endpoint_for(receiver, org)
    endpoint.failing_since = utcnow() - dt.timedelta(days=5, minutes=1)
    receiver.answer(500)
    delivery = _ping(endpoint)

    run_jobs()

    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled
    assert "five days" in endpoint.disabled_reason
    assert _reload(delivery).status == DeliveryStatus.FAILED
    mails = db.session.scalars(select(DevMailMessage)).all()
    assert any(m.is_for(admin.email) for m in mails)


def test_the_sweep_disables_an_endpoint_failing_for_five_days_with_nothing_left_to_send(
    receiver,
):
    """Messages stop retrying after three days; with no new event no attempt fails again, so
    the periodic sweep disables the endpoint and tells its owner, as a failed attempt would."""
    from app.documents.sweeper import housekeeping

    org = OrganizationFactory(supplier=True)
    admin = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=org)
    dead = endpoint_for(receiver, org)
    dead.failing_since = utcnow() - dt.timedelta(days=5, minutes=1)
    recent = endpoint_for(receiver, org)
    recent.failing_since = utcnow() - dt.timedelta(days=4, hours=23)
    db.session.commit()

    assert housekeeping(utcnow())["disabled_webhooks"] == 1
    db.session.commit()
    assert housekeeping(utcnow())["disabled_webhooks"] == 0  # once is enough
    db.session.commit()

    db.session.expire_all()
    dead, recent = (
        db.session.get(WebhookEndpoint, dead.id),
        db.session.get(WebhookEndpoint, recent.id),
    )
    assert not dead.enabled
    assert dead.disabled_reason == "Every delivery failed for five days."
    assert recent.enabled
    mails = [m for m in db.session.scalars(select(DevMailMessage)) if m.is_for(admin.email)]
    assert len(mails) == 1
    assert dead.url in mails[0].body
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "webhook.disabled")
    ).all()
    assert entry.actor_label == "system"
    assert entry.organization_id == org.id
    assert receiver.received == []  # nothing was sent to find out


def test_a_success_clears_the_failing_clock(receiver):
    endpoint = endpoint_for(receiver)
    endpoint.failing_since = utcnow() - dt.timedelta(days=4)
    _ping(endpoint)
    run_jobs()
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is None


def test_retries_stop_when_the_window_is_over(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(500)
    delivery = _ping(endpoint)
    delivery.retry_until = utcnow() + dt.timedelta(seconds=2)
    db.session.commit()

    run_jobs()

    delivery = _reload(delivery)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None


def test_redelivery_sends_the_same_message_again(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(500)
    delivery = _ping(endpoint)
    delivery.retry_until = utcnow()  # no retries: it fails at once
    db.session.commit()
    run_jobs()
    assert _reload(delivery).status == DeliveryStatus.FAILED

    services.redeliver(_reload(delivery))
    db.session.commit()
    run_jobs()

    delivery = _reload(delivery)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [a.number for a in delivery.attempts] == [1, 2]
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.body == second.body
    assert second.error is None


def test_replay_sends_every_failed_message_since_a_time(receiver):
    endpoint = endpoint_for(receiver)
    old, recent, delivered = _ping(endpoint), _ping(endpoint), _ping(endpoint)
    for delivery in (old, recent):
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    delivered.status = DeliveryStatus.DELIVERED
    delivered.next_attempt_at = None
    old.created_at = utcnow() - dt.timedelta(days=2)
    db.session.commit()
    Queue("default", connection=redis_connection()).empty()

    count = services.replay_failed(
        db.session.get(WebhookEndpoint, endpoint.id), utcnow() - dt.timedelta(days=1)
    )
    db.session.commit()
    run_jobs()

    assert count == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [recent.message_id]
    assert _reload(old).status == DeliveryStatus.FAILED


def test_a_disabled_endpoint_gets_nothing_and_its_owed_messages_fail(receiver):
    endpoint = endpoint_for(receiver)
    delivery = _ping(endpoint)
    services.set_enabled(db.session.get(WebhookEndpoint, endpoint.id), False)
    db.session.commit()

    run_jobs()

    assert receiver.received == []
    assert _reload(delivery).status == DeliveryStatus.FAILED
    with pytest.raises(services.WebhookError):
        services.ping(db.session.get(WebhookEndpoint, endpoint.id))


def test_the_sweep_resends_a_delivery_whose_job_was_lost(receiver):
    from app.webhooks.tasks import resend_due

    endpoint = endpoint_for(receiver)
    delivery = _ping(endpoint)
    Queue("default", connection=redis_connection()).empty()  # the job is lost
    assert run_jobs() == 0

    assert resend_due(utcnow()) == 0  # not overdue yet: its job may simply be coming
    assert resend_due(utcnow() + dt.timedelta(minutes=3)) == 1
    run_jobs()

    assert _reload(delivery).status == DeliveryStatus.DELIVERED
    assert json.loads(receiver.received[0].body)["type"] == "webhook.test"


def test_an_answer_with_nul_bytes_is_logged(receiver):
    endpoint = endpoint_for(receiver)
    receiver.answer(500, b"bad\x00answer\xff")
    delivery = _ping(endpoint)

    run_jobs()

    (attempt,) = _reload(delivery).attempts
    assert attempt.response_excerpt == "bad\ufffdanswer\ufffd"


@pytest.mark.slow
def test_the_scheduled_retry_is_made_by_a_worker_with_its_scheduler(receiver):
    """The retry is a job RQ's scheduler enqueues when it is due (the worker runs with it)."""
    endpoint = endpoint_for(receiver)
    receiver.answer(500)
    delivery = _ping(endpoint)
    run_jobs()
    due = _reload(delivery).next_attempt_at

    time.sleep(max(0.0, (due - utcnow()).total_seconds()) + 0.5)
    connection = redis_connection()
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=connection).work(burst=True, with_scheduler=True)

    delivery = _reload(delivery)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [a.status_code for a in delivery.attempts] == [500, 200]
    assert all(r.error is None for r in receiver.received)
