"""Webhook endpoints, the messages owed to them (an outbox written with the event) and every
attempt to deliver one."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedString
from app.db import Model, TimestampMixin, UTCDateTime, enum_column, utcnow
from app.orgs.models import Organization


class WebhookEndpoint(TimestampMixin, Model):
    """An address of one organization (supplier or partner) that receives the events it
    subscribes to, signed with its own `whsec_` secret (encrypted at rest)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Why it is disabled ("410 Gone", "failing for 5 days", "disabled by x@y"); None when enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The first failed attempt since the last success; five days of it disables the endpoint.
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    secret: Mapped[str] = mapped_column(EncryptedString(512))
    # After a rotation the old secret still signs (beside the new one) until this time.
    previous_secret: Mapped[str | None] = mapped_column(EncryptedString(512))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship()

    def subscribes_to(self, event_type: str) -> bool:
        return self.enabled and event_type in (self.event_types or [])

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign a message sent at `now`: the current one, and the previous one
        while its overlap lasts."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            secrets.append(self.previous_secret)
        return secrets


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # owed: an attempt is due at next_attempt_at
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # retries exhausted, the endpoint disabled, or refused


class WebhookDelivery(TimestampMixin, Model):
    """One message owed to one endpoint. Written in the transaction of the event it reports
    (never lost, never sent for a change that rolled back); its body is fixed when written, so
    every attempt and redelivery sends the same bytes under the same `webhook-id`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The endpoint's organization, so every query can be scoped without a join.
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    # Retries stop after this (three days after the message, or after a redelivery).
    retry_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The correlation id of the change that owed the message: every attempt's job logs it, also
    # one the sweep sends again after Redis lost the job (and its meta).
    correlation_id: Mapped[str | None] = mapped_column(String(64))

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.number"
    )


class WebhookAttempt(Model):
    """One HTTP attempt: when, what came back, how long it took, the first bytes of the answer."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    response_excerpt: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(String(500))
    succeeded: Mapped[bool] = mapped_column(default=False)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts")
