"""The one place a delivery's status changes, and the changes it allows.

Not through app/lifecycle.py: that one audits every change, and a delivery changes with every
attempt of a machine; the people's actions that change one (redeliver, replay) are audited by
app.webhooks.services."""

from __future__ import annotations

import datetime as dt

from app.webhooks.models import DeliveryStatus, WebhookDelivery

D = DeliveryStatus
ALLOWED: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    D.PENDING: frozenset({D.DELIVERED, D.FAILED}),
    D.DELIVERED: frozenset({D.PENDING}),  # redelivered on request
    D.FAILED: frozenset({D.PENDING}),  # redelivered or replayed
}


class InvalidDeliveryChange(Exception):  # noqa: N818 - reads as the rule it enforces
    pass


def move(
    delivery: WebhookDelivery,
    to: DeliveryStatus,
    *,
    next_attempt_at: dt.datetime | None = None,
    error: str | None = None,
) -> None:
    """Change `delivery` to `to`: pending needs the time of its next attempt."""
    if to not in ALLOWED[delivery.status]:
        raise InvalidDeliveryChange(f"delivery {delivery.id}: {delivery.status} → {to}")
    if (to == D.PENDING) != (next_attempt_at is not None):
        raise ValueError("a pending delivery, and only one, has a next attempt")
    delivery.status = to
    delivery.next_attempt_at = next_attempt_at
    delivery.last_error = (error or "")[:500] or None
