"""RQ entry points of webhooks: thin, they take a message id and reload what they need."""

from __future__ import annotations

import datetime as dt

import structlog
from redis.exceptions import RedisError
from sqlalchemy import select

from app.db import db
from app.jobs import enqueue_now, job
from app.webhooks import delivery, events, schedule
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = structlog.get_logger(__name__)

# A due delivery this much overdue lost its job (Redis flushed, worker killed): send it again.
LOST_AFTER = dt.timedelta(minutes=2)
SWEEP_BATCH = 500


@job
def deliver(message_id: str) -> str:
    return delivery.run(message_id)


def resend_due(now: dt.datetime) -> int:
    """Housekeeping of the periodic sweep: enqueue deliveries whose attempt is overdue."""
    due = db.session.execute(
        select(WebhookDelivery.message_id, WebhookDelivery.correlation_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at < now - LOST_AFTER,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(SWEEP_BATCH)
    ).all()
    sent = 0
    for message_id, correlation_id in due:
        try:
            enqueue_now(
                events.DELIVER_JOB,
                message_id,
                job_id=events.job_id(message_id),
                retry=schedule.JOB_RETRY,
                correlation_id=correlation_id,
            )
        except RedisError:
            log.warning("webhook resend failed: Redis is not answering", sent=sent)
            break
        sent += 1
    return sent


def disable_failing(now: dt.datetime) -> int:
    """Housekeeping of the periodic sweep: disable every endpoint failing for five days and
    tell its owner, as a failed attempt past that age does. Messages stop retrying after
    three days, so an endpoint with no new event since would otherwise never get there."""
    endpoints = db.session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.failing_since <= now - schedule.DISABLE_AFTER,
        )
        .order_by(WebhookEndpoint.id)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)  # a sweep running beside this one skips it
    ).all()
    for endpoint in endpoints:
        delivery.disable(endpoint, delivery.FAILING_FIVE_DAYS, now)
    return len(endpoints)
