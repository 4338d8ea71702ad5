"""Delivering one message: sign it, send it through the outbound guard, log the attempt, and
decide what comes next (done, retry later, give up, disable the endpoint).

Every attempt resolves the endpoint's host again and connects to the address it checked
(`app.outbound`), follows no redirect and waits at most TIMEOUT seconds for the whole exchange,
however slowly the receiver dribbles its answer (`app.webhooks.deadline`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import requests
import structlog
from flask import current_app, g
from sqlalchemy import select

from app import outbound
from app.audit.services import record
from app.db import db, utcnow
from app.jobs import queue
from app.onboarding.notify import tell_org
from app.webhooks import deadline, events, schedule, signing, states
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = structlog.get_logger(__name__)

TIMEOUT = 10  # seconds for the whole exchange: resolve, connect, send, status, first bytes
EXCERPT_BYTES = 500
QUEUE = "default"
FAILING_FIVE_DAYS = "Every delivery failed for five days."


@dataclass(frozen=True)
class Answer:
    """What one HTTP attempt came to."""

    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str | None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def run(message_id: str) -> str:
    """Make the attempt that is due for `message_id`; answers what happened (for the job log)."""
    delivery = db.session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.message_id == message_id)
        .with_for_update(skip_locked=True)
    )
    now = utcnow()
    if delivery is None:
        return "locked or gone"
    if delivery.status != DeliveryStatus.PENDING:
        return f"already {delivery.status.value}"
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return "not due yet"
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _give_up(delivery, f"endpoint disabled: {endpoint.disabled_reason}")
        return "endpoint disabled"
    answer = send(endpoint, delivery, now)
    return _record(endpoint, delivery, answer, now)


def send(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: dt.datetime) -> Answer:
    """One signed POST of the delivery's body to the endpoint."""
    headers = signing.headers(
        endpoint.signing_secrets(now), delivery.message_id, now, delivery.body
    )
    started = time.monotonic()
    with deadline.Deadline(TIMEOUT) as limit:
        session = deadline.session(outbound.policy_from(current_app.config), limit)
        try:
            answer = _exchange(session, endpoint.url, delivery.body.encode(), headers, started)
        except outbound.OutboundRefusedError as exc:
            answer = Answer(None, _ms_since(started), "", f"refused: {exc.message}"[:500])
        except requests.RequestException as exc:
            answer = Answer(None, _ms_since(started), "", _transport_error(exc))
        finally:
            limit.stop()  # before closing: a close is no cut
            session.close()
    if limit.expired:  # whatever the cut looked like (a reset, a short body), it was the limit
        return Answer(None, _ms_since(started), "", f"no answer within {TIMEOUT} s")
    return answer


def _exchange(
    session: requests.Session, url: str, body: bytes, headers: dict[str, str], started: float
) -> Answer:
    with session.post(
        url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
    ) as response:
        first = next(response.iter_content(EXCERPT_BYTES), b"")[:EXCERPT_BYTES]
        return Answer(
            response.status_code,
            _ms_since(started),
            _text(first),
            _status_error(response),
            response.headers.get("Retry-After"),
        )


def _transport_error(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT} s"
    return f"could not connect: {type(exc).__name__}"


def _status_error(response: requests.Response) -> str | None:
    if 200 <= response.status_code < 300:
        return None
    if response.is_redirect:
        return f"answered {response.status_code} (a redirect, not followed)"
    return f"answered {response.status_code}"


def _text(raw: bytes) -> str:
    """The answer's first bytes as text a database column takes (PostgreSQL refuses NUL)."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, answer: Answer, now: dt.datetime
) -> str:
    delivery.attempt_count += 1
    db.session.add(
        WebhookAttempt(
            delivery=delivery,
            number=delivery.attempt_count,
            at=now,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            response_excerpt=answer.excerpt,
            error=answer.error,
            succeeded=answer.succeeded,
        )
    )
    if answer.succeeded:
        outcome = _delivered(endpoint, delivery)
    elif answer.status_code == 410:
        disable(endpoint, "The endpoint answered 410 Gone.", now)
        outcome = _give_up(delivery, answer.error)
    else:
        outcome = _failed(endpoint, delivery, answer, now)
    events.delivery_finished.send(
        delivery.event_type, outcome=outcome, delivery_id=delivery.id, endpoint_id=endpoint.id
    )
    log.info(
        "webhook attempt",
        message_id=delivery.message_id,
        endpoint_id=endpoint.id,
        attempt=delivery.attempt_count,
        status_code=answer.status_code,
        outcome=outcome,
    )
    return outcome


def _delivered(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> str:
    states.move(delivery, DeliveryStatus.DELIVERED)
    endpoint.failing_since = None
    return "delivered"


def _failed(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, answer: Answer, now: dt.datetime
) -> str:
    delivery.last_error = answer.error
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since >= schedule.DISABLE_AFTER:
        disable(endpoint, FAILING_FIVE_DAYS, now)
        return _give_up(delivery, answer.error)
    asked = schedule.retry_after(answer.retry_after, now)
    when = schedule.next_attempt(delivery.attempt_count, now, delivery.retry_until, asked)
    if when is None:
        return _give_up(delivery, answer.error)
    delivery.next_attempt_at = when
    queue(QUEUE).enqueue_at(
        when,
        events.DELIVER_JOB,
        delivery.message_id,
        job_id=events.job_id(delivery.message_id, delivery.attempt_count),
        retry=schedule.JOB_RETRY,
        meta={"correlation_id": g.get("correlation_id")},
    )
    return "retrying"


def _give_up(delivery: WebhookDelivery, error: str | None) -> str:
    states.move(delivery, DeliveryStatus.FAILED, error=error)
    return "failed"


def disable(endpoint: WebhookEndpoint, reason: str, now: dt.datetime) -> None:
    """Stop sending to `endpoint` and tell its organization's admins why."""
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    events.forget_endpoints()
    record(
        "webhook.disabled",
        actor_label="system",
        organization_id=endpoint.organization_id,
        target=endpoint,
        details={"url": endpoint.url, "reason": reason},
    )
    tell_org(
        endpoint.organization,
        "A webhook endpoint was disabled",
        "webhook_disabled",
        endpoint=endpoint,
        reason=reason,
    )
