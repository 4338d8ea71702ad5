"""Managing webhook endpoints (the portal pages and the API call these): create, change,
enable and disable, rotate the secret, ping, redeliver and replay. Each change is audited;
services add and flush, the caller commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select

from app import outbound
from app.audit.services import record
from app.db import db, utcnow
from app.jobs import enqueue_after_commit
from app.orgs.models import Organization, OrgKind
from app.webhooks import events, schedule, signing, states
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200
DELIVERY_LOG_LIMIT = 100
Actor = object  # a signed-in User, or an API client (named in the audit entry by actor_label)


class WebhookError(Exception):
    """A refused change; the message is written for the person who asked."""


class AlreadyQueuedError(WebhookError):
    """Sending again was asked for a message still waiting to be sent: nothing changed."""


def overlap() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"])


# -- reading, always scoped to the caller's organization ---------------------------------------


def endpoints_of(org_id: int) -> Sequence[WebhookEndpoint]:
    return db.session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == org_id)
        .order_by(WebhookEndpoint.id)
    ).all()


def own_endpoint(org_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint if it belongs to `org_id`; None for another's and a missing one alike."""
    return db.session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == org_id
        )
    )


def own_delivery(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    return db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
        )
    )


def deliveries_of(
    endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_LIMIT
) -> Sequence[WebhookDelivery]:
    """The newest deliveries first, each with its attempts."""
    return db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    ).all()


# -- changes -------------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """The URL as it will be called, or WebhookError saying why it may not be."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"Give the endpoint's URL (at most {MAX_URL_LENGTH} characters).")
    try:
        outbound.check_url(url, outbound.policy_from(current_app.config))
    except outbound.UnresolvedHostError:
        pass  # not (yet) in DNS: each delivery checks the name again before it connects
    except outbound.OutboundRefusedError as exc:
        raise WebhookError(exc.message) from None
    return url


def check_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(events.EVENT_TYPES))
    if unknown:
        raise WebhookError(f"Unknown event types: {', '.join(unknown)}.")
    if not event_types:
        raise WebhookError("Choose at least one event type.")
    return [t for t in events.EVENT_TYPES if t in event_types]


def check_description(description: str | None) -> str:
    if len(description or "") > MAX_DESCRIPTION_LENGTH:
        raise WebhookError(f"A description has at most {MAX_DESCRIPTION_LENGTH} characters.")
    return description or ""


def create_endpoint(
    org: Organization,
    url: str,
    event_types: Sequence[str],
    *,
    description: str = "",
    actor: Actor | None = None,
    actor_label: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown this once (only its encryption is kept)."""
    if org.kind not in (OrgKind.SUPPLIER, OrgKind.PARTNER):
        raise WebhookError("Only suppliers and partners have webhook endpoints.")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        organization_id=org.id,
        url=check_url(url),
        event_types=check_event_types(event_types),
        description=check_description(description),
        secret=secret,
    )
    db.session.add(endpoint)
    db.session.flush()
    _audit("webhook.created", endpoint, actor, actor_label, events=endpoint.event_types)
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    actor: Actor | None = None,
    actor_label: str | None = None,
) -> WebhookEndpoint:
    before = {"url": endpoint.url, "events": list(endpoint.event_types)}
    if url is not None:
        endpoint.url = check_url(url)
    if event_types is not None:
        endpoint.event_types = check_event_types(event_types)
    if description is not None:
        endpoint.description = check_description(description)
    after = {"url": endpoint.url, "events": list(endpoint.event_types)}
    _audit("webhook.updated", endpoint, actor, actor_label, before=before, after=after)
    return endpoint


def set_enabled(
    endpoint: WebhookEndpoint,
    enabled: bool,
    *,
    actor: Actor | None = None,
    actor_label: str | None = None,
) -> WebhookEndpoint:
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = endpoint.disabled_at = endpoint.failing_since = None
    else:
        endpoint.disabled_reason = f"Disabled by {_label(actor, actor_label)}."
        endpoint.disabled_at = utcnow()
    action = "webhook.enabled" if enabled else "webhook.disabled"
    _audit(action, endpoint, actor, actor_label)
    return endpoint


def rotate_secret(
    endpoint: WebhookEndpoint, *, actor: Actor | None = None, actor_label: str | None = None
) -> str:
    """A new secret signs from now on; the current one also signs for the overlap, so the
    receiver can switch without missing a message. Answers the new secret (shown once)."""
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + overlap()
    endpoint.secret = secret
    _audit(
        "webhook.secret_rotated",
        endpoint,
        actor,
        actor_label,
        old_signs_until=endpoint.previous_secret_expires_at.isoformat(),
    )
    return secret


def delete_endpoint(
    endpoint: WebhookEndpoint, *, actor: Actor | None = None, actor_label: str | None = None
) -> None:
    _audit("webhook.deleted", endpoint, actor, actor_label)
    db.session.delete(endpoint)
    events.forget_endpoints()
    db.session.flush()


def ping(
    endpoint: WebhookEndpoint, *, actor: Actor | None = None, actor_label: str | None = None
) -> WebhookDelivery:
    """Owe the endpoint a test message, sent whatever it subscribes to (if it is enabled)."""
    if not endpoint.enabled:
        raise WebhookError("Enable the endpoint before sending it a test message.")
    now = utcnow()
    delivery = events.owe(
        endpoint.id,
        endpoint.organization_id,
        events.PING,
        events.payload(events.PING, None, now),
        now,
    )
    db.session.flush()
    _audit("webhook.pinged", endpoint, actor, actor_label, message_id=delivery.message_id)
    return delivery


def redeliver(
    delivery: WebhookDelivery, *, actor: Actor | None = None, actor_label: str | None = None
) -> WebhookDelivery:
    """Send a message again (same id and body, so the receiver can tell it is the same one),
    with a new three-day window of retries."""
    if not delivery.endpoint.enabled:
        raise WebhookError("Enable the endpoint before sending it messages again.")
    if delivery.status == DeliveryStatus.PENDING:
        due = delivery.next_attempt_at
        when = f" (next attempt {due:%Y-%m-%d %H:%M} UTC)" if due else ""
        raise AlreadyQueuedError(
            f"Message {delivery.message_id} is already queued{when}: nothing was added."
        )
    _again(delivery, utcnow())
    _audit(
        "webhook.redelivered", delivery.endpoint, actor, actor_label, message_id=delivery.message_id
    )
    return delivery


def replay_failed(
    endpoint: WebhookEndpoint,
    since: dt.datetime,
    *,
    actor: Actor | None = None,
    actor_label: str | None = None,
) -> int:
    """Send again every message to `endpoint` that failed and was written at or after `since`."""
    if not endpoint.enabled:
        raise WebhookError("Enable the endpoint before replaying its failed messages.")
    failed = db.session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.FAILED,
            WebhookDelivery.created_at >= since,
        )
    ).all()
    now = utcnow()
    for delivery in failed:
        _again(delivery, now)
    _audit(
        "webhook.replayed", endpoint, actor, actor_label, since=since.isoformat(), count=len(failed)
    )
    return len(failed)


def _again(delivery: WebhookDelivery, now: dt.datetime) -> None:
    if delivery.status == DeliveryStatus.PENDING:  # already owed: its job will come
        return
    states.move(delivery, DeliveryStatus.PENDING, next_attempt_at=now)
    delivery.retry_until = now + schedule.RETRY_WINDOW
    enqueue_after_commit(
        events.DELIVER_JOB,
        delivery.message_id,
        job_id=events.job_id(delivery.message_id, f"again-{delivery.attempt_count}"),
        retry=schedule.JOB_RETRY,
    )


def _label(actor: Actor | None, actor_label: str | None) -> str:
    return actor_label or getattr(actor, "email", None) or "system"


def _audit(
    action: str,
    endpoint: WebhookEndpoint,
    actor: Actor | None,
    actor_label: str | None,
    **details: object,
) -> None:
    events.forget_endpoints()
    record(
        action,
        actor=actor,
        actor_label=_label(actor, actor_label),
        organization_id=endpoint.organization_id,
        target=endpoint,
        details={"endpoint_id": endpoint.id, "url": endpoint.url, **details},
    )
