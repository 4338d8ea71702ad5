"""Which document changes are webhook events, and writing the messages they owe.

`on_transition` listens to `app.pipeline.document_transitioned`, which is sent inside the
transaction of the change: the delivery rows it writes commit or roll back with the change
itself (an outbox), so no event is lost and none is sent for a change that never happened.
Their delivery jobs are enqueued after the commit; the sweep re-sends any that were lost.

`publish` is the way in for events that are not state changes (`invoice.info_requested`).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from blinker import Namespace
from flask import current_app, g
from sqlalchemy import select

from app.db import db, utcnow
from app.documents.models import Document
from app.holds.signals import info_requested
from app.jobs import enqueue_after_commit
from app.oauth import client_changes
from app.oauth.client_cache import UNCOMMITTED_CHANGE
from app.oauth.settings import client_cache_seconds
from app.pipeline import Transitioned, document_transitioned
from app.webhooks import schedule, signing
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

PING = "webhook.test"
# Every event an endpoint may subscribe to, with what it means to the receiver.
EVENT_TYPES: dict[str, str] = {
    "invoice.received": "An invoice was accepted and waits to be read.",
    "invoice.rejected": "An invoice was rejected; the document lists why.",
    "invoice.on_hold": "An invoice is held for finance to look at.",
    "invoice.info_requested": "Finance asks the supplier for information about an invoice.",
    "invoice.validated": "An invoice passed every check.",
    "invoice.posted": "An invoice was posted to the ERP.",
    "invoice.paid": "An invoice was paid.",
    "acknowledgment.received": "A PO acknowledgment was accepted.",
    "acknowledgment.rejected": "A PO acknowledgment was rejected; the document lists why.",
    "acknowledgment.on_hold": "A PO acknowledgment is held for a person to look at.",
    "acknowledgment.applied": "A PO acknowledgment was applied to its purchase order.",
}
# Internal steps (NORMALIZED, POSTING, DEAD...) are no event: a receiver cannot act on them.
STATE_EVENTS: dict[tuple[str, str], str] = {
    (kind, state): f"{kind}.{state.lower()}"
    for kind, state in (
        ("invoice", "RECEIVED"),
        ("invoice", "REJECTED"),
        ("invoice", "ON_HOLD"),
        ("invoice", "VALIDATED"),
        ("invoice", "POSTED"),
        ("invoice", "PAID"),
        ("acknowledgment", "RECEIVED"),
        ("acknowledgment", "REJECTED"),
        ("acknowledgment", "ON_HOLD"),
        ("acknowledgment", "APPLIED"),
    )
}
DELIVER_JOB = "app.webhooks.tasks.deliver"
_CACHE = "webhook_endpoints"  # session.info: this transaction's read of the endpoints
_SHARED = "webhook_subscriptions"  # app.extensions: the process's copy (see _shared_copy)

signals = Namespace()
# Sent after every attempt with `outcome` (delivered, retrying, failed) and the event type:
# metrics count it without reading the delivery log.
delivery_finished = signals.signal("webhook-delivery-finished")


@dataclass(frozen=True)
class Subject:
    """The document an event is about, as the payload names it."""

    document_id: int
    kind: str
    state: str
    previous_state: str | None = None


def on_transition(change: Transitioned, **_: Any) -> None:
    event_type = STATE_EVENTS.get((change.kind, change.to_state))
    if event_type is None:
        return
    subject = Subject(change.document_id, change.kind, change.to_state, change.from_state)
    _publish(event_type, subject, (change.supplier_org_id, change.sender_org_id))


def publish(
    event_type: str, document_id: int, organization_ids: Iterable[int | None]
) -> list[WebhookDelivery]:
    """Owe `event_type` about a document to the endpoints of `organization_ids` that subscribe
    to it, in the caller's transaction (the caller commits)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not a webhook event")
    if not _subscribers(event_type, organization_ids):
        return []
    document = db.session.get(Document, document_id)
    if document is None:
        raise ValueError(f"there is no document {document_id}")
    subject = Subject(document.id, document.kind.value, document.state.value)
    return _publish(event_type, subject, organization_ids)


def _publish(
    event_type: str, subject: Subject, organization_ids: Iterable[int | None]
) -> list[WebhookDelivery]:
    endpoint_ids = _subscribers(event_type, organization_ids)
    if not endpoint_ids:
        return []
    now = utcnow()
    body = payload(event_type, subject, now)
    return [
        owe(endpoint_id, org_id, event_type, body, now, document_id=subject.document_id)
        for endpoint_id, org_id in endpoint_ids
    ]


def payload(event_type: str, subject: Subject | None, at: dt.datetime) -> str:
    """The thin body: what happened to which document and where to read it with a token;
    never the document's contents."""
    data: dict[str, Any] = {}
    if subject is not None:
        data = {
            "document_id": subject.document_id,
            "kind": subject.kind,
            "state": subject.state,
            "previous_state": subject.previous_state,
            "href": document_link(subject.document_id),
        }
    body = {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data}
    return json.dumps(body, separators=(",", ":"))


def document_link(document_id: int) -> str:
    base = (current_app.config.get("PORTAL_URL") or "").rstrip("/")
    return f"{base}/api/v1/documents/{document_id}"


def owe(
    endpoint_id: int,
    organization_id: int,
    event_type: str,
    body: str,
    now: dt.datetime,
    *,
    document_id: int | None = None,
) -> WebhookDelivery:
    """Write one delivery row and have its first attempt made once the transaction commits."""
    delivery = WebhookDelivery(
        endpoint_id=endpoint_id,
        organization_id=organization_id,
        message_id=signing.new_message_id(),
        event_type=event_type,
        document_id=document_id,
        body=body,
        next_attempt_at=now,
        retry_until=now + schedule.RETRY_WINDOW,
        correlation_id=g.get("correlation_id"),
    )
    db.session.add(delivery)
    enqueue_after_commit(
        DELIVER_JOB,  # by dotted path: RQ imports it in the worker
        delivery.message_id,
        job_id=job_id(delivery.message_id),
        retry=schedule.JOB_RETRY,
    )
    return delivery


def job_id(message_id: str, attempt: int | str = 0) -> str:
    return f"webhook-{message_id}-{attempt}"


def _subscribers(event_type: str, organization_ids: Iterable[int | None]) -> list[tuple[int, int]]:
    """(endpoint id, organization id) of each enabled endpoint subscribed to `event_type`."""
    wanted = sorted({org_id for org_id in organization_ids if org_id is not None})
    endpoints = _endpoints_in_transaction()
    missing = [org_id for org_id in wanted if org_id not in endpoints]
    shared = _shared_copy() if missing else None
    if shared is not None:
        endpoints.update({org_id: shared[org_id] for org_id in missing if org_id in shared})
        missing = [org_id for org_id in missing if org_id not in shared]
    if missing:
        rows = db.session.execute(
            select(
                WebhookEndpoint.organization_id, WebhookEndpoint.id, WebhookEndpoint.event_types
            ).where(WebhookEndpoint.organization_id.in_(missing), WebhookEndpoint.enabled)
        ).all()
        for org_id in missing:
            endpoints[org_id] = [
                (row.id, list(row.event_types)) for row in rows if row.organization_id == org_id
            ]
            if shared is not None:
                shared[org_id] = endpoints[org_id]
    return [
        (endpoint_id, org_id)
        for org_id in wanted
        for endpoint_id, types in endpoints[org_id]
        if event_type in types
    ]


Endpoints = dict[int, list[tuple[int, list[str]]]]


def _endpoints_in_transaction() -> Endpoints:
    """The subscribed endpoints per organization, read once per transaction: a CSV of five
    hundred invoices asks the database once, not five hundred times."""
    session = db.session()
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE)
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info[_CACHE] = cached
    return cached[1]


@dataclass
class _SharedCopy:
    epoch: bytes
    loaded_at: float
    endpoints: Endpoints


def _shared_copy() -> Endpoints | None:
    """This process's copy of the subscriptions, shared by its API calls, or None when it may
    not be used. The token check read the shared epoch (`app.oauth.client_cache`) this request;
    every committed change to an endpoint moves it (`forget_endpoints`), so a copy made under
    the epoch read now is current, and intake asks the database nothing for webhooks. A job
    (no token check), a transaction that changes an endpoint itself, or a copy older than
    OAUTH_CLIENT_CACHE_SECONDS (the epoch may not have moved while Redis was away) reads the
    database."""
    epoch = g.get("shared_epoch")
    max_age = client_cache_seconds()
    if epoch is None or max_age <= 0 or db.session().info.get(UNCOMMITTED_CHANGE):
        return None
    copy = current_app.extensions.get(_SHARED)
    now = time.monotonic()
    if copy is None or copy.epoch != epoch or now - copy.loaded_at >= max_age:
        copy = current_app.extensions[_SHARED] = _SharedCopy(epoch, now, {})
    return copy.endpoints


def forget_endpoints() -> None:
    """Called when an endpoint changes: this transaction reads them again, and once it commits
    every process does (the shared epoch moves, as for a changed client)."""
    session = db.session()
    session.info.pop(_CACHE, None)
    client_changes.note_change(session)


def on_info_requested(document_id: int) -> None:
    """Finance asked the supplier a question about an invoice: tell the supplier, and the
    partner that sent it, if they subscribe."""
    document = db.session.get(Document, document_id)
    if document is not None:
        receivers = {document.supplier_org_id, document.sender_org_id}
        publish("invoice.info_requested", document_id, receivers)


def init_app() -> None:
    """Listen to document changes and finance's questions (connecting twice is one connection)."""
    document_transitioned.connect(on_transition, weak=False)
    info_requested.connect(on_info_requested, weak=False)
