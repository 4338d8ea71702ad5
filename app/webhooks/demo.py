"""Demo data: the partner's webhook endpoint with a delivery log to look at (one message
delivered, one delivered on its second attempt, one that failed and can be redelivered)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.db import db, utcnow
from app.documents.models import Document
from app.orgs.models import Organization
from app.webhooks import events, schedule, services, signing
from app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

DEMO_URL = "https://hooks.medlink.example/supplier-portal/events"
DEMO_EVENTS = ("invoice.on_hold", "invoice.rejected", "invoice.posted", "invoice.paid")
# (event, status, attempts as (status code, milliseconds, answer)), oldest first.
HISTORY = (
    ("webhook.test", DeliveryStatus.DELIVERED, ((200, 87, "ok"),)),
    (
        "invoice.on_hold",
        DeliveryStatus.DELIVERED,
        ((503, 1204, "upstream unavailable"), (200, 143, '{"received":true}')),
    ),
    (
        "invoice.rejected",
        DeliveryStatus.FAILED,
        ((500, 310, "Internal Server Error"), (500, 295, "Internal Server Error")),
    ),
)


def seed_webhooks(partner: Organization) -> int:
    """The partner's endpoint and its log, once (answers 1 when made, 0 when it was there)."""
    if db.session.scalar(
        select(WebhookEndpoint.id).where(WebhookEndpoint.organization_id == partner.id)
    ):
        return 0
    endpoint, _ = services.create_endpoint(
        partner, DEMO_URL, DEMO_EVENTS, description="MedLink event bridge (demo)"
    )
    document_id = db.session.scalar(
        select(Document.id).where(Document.supplier_org_id.is_not(None)).limit(1)
    )
    start = utcnow() - dt.timedelta(hours=len(HISTORY) + 1)
    for hours, entry in enumerate(HISTORY):
        _history(endpoint, entry, start + dt.timedelta(hours=hours), document_id)
    return 1


def _history(
    endpoint: WebhookEndpoint, entry: tuple, at: dt.datetime, document_id: int | None
) -> None:
    event_type, status, attempts = entry
    about = document_id if event_type != events.PING else None
    subject = (
        events.Subject(about, "invoice", event_type.split(".")[1].upper())
        if about is not None
        else None
    )
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        organization_id=endpoint.organization_id,
        message_id=signing.new_message_id(),
        event_type=event_type,
        document_id=about,
        body=events.payload(event_type, subject, at),
        status=status,
        attempt_count=len(attempts),
        next_attempt_at=None,
        retry_until=at + schedule.RETRY_WINDOW,
        last_error=None if status == DeliveryStatus.DELIVERED else f"answered {attempts[-1][0]}",
        created_at=at,
    )
    db.session.add(delivery)
    for number, (code, ms, answer) in enumerate(attempts, start=1):
        db.session.add(
            WebhookAttempt(
                delivery=delivery,
                number=number,
                at=at + dt.timedelta(minutes=5 * (number - 1)),
                status_code=code,
                duration_ms=ms,
                response_excerpt=answer,
                error=None if 200 <= code < 300 else f"answered {code}",
                succeeded=200 <= code < 300,
            )
        )
