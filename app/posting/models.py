"""The posting ledger: one row per attempt to book an invoice in the ERP, the breaker's state
changes, and the reconciler's runs."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, UTCDateTime, enum_column, utcnow


class AttemptState(enum.StrEnum):
    """sending → posted, rejected (a business answer), failed (surely not booked) or unknown
    (a timeout or dropped connection: it may have been booked; looked up before a resend)."""

    SENDING = "sending"
    POSTED = "posted"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"


class PostingAttempt(Model):
    """One claim of the right to post a document. The row is committed before the ERP call, so
    a worker killed mid-call leaves a `sending` row whose lease runs out: the next claim treats
    it as an unknown outcome."""

    __tablename__ = "posting_attempts"
    __table_args__ = (UniqueConstraint("document_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    attempt_no: Mapped[int] = mapped_column(Integer)
    state: Mapped[AttemptState] = mapped_column(enum_column(AttemptState, length=16))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    worker: Mapped[str] = mapped_column(String(200))
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # What was sent, kept as sent (a DEAD document keeps its original payload here).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    erp_ap_invoice_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # How the outcome was known: "create", "lookup" (an unknown outcome resolved) or "lease".
    resolved_by: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the next attempt is due (a backoff after failed/unknown), if one is.
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Payment sync: when the ERP was last asked about this booked invoice's payment.
    payment_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BreakerEvent(Model):
    """A change of state of the ERP circuit breaker, as the process that made it saw it."""

    __tablename__ = "breaker_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    # "shared" (Redis) or "local" (this process alone, while Redis was unreachable).
    scope: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class ReconcileRun(Model):
    """One run of the reconciler: what it looked at and which documents it sent on again."""

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    checked: Mapped[int] = mapped_column(Integer, default=0)
    requeued: Mapped[list[int]] = mapped_column(JSON, default=list)
    trigger: Mapped[str] = mapped_column(String(16))  # "schedule" or "cli"


class ReconciledDocument(Model):
    """How often the reconciler sent a document on from the state it is stuck in: a document
    whose job keeps failing (a poison message) is left for ops after RECONCILE_MAX_RESENDS."""

    __tablename__ = "reconciled_documents"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    stuck_in: Mapped[str] = mapped_column(String(16))  # the state it was sent on from
    resends: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
