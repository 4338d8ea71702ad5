"""Audit entries: each row carries the hash of the previous one, so edits break the chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, UTCDateTime, utcnow

GENESIS_HASH = "0" * 64


class AuditEntry(Model):
    __tablename__ = "audit_log"
    # One record's entries (the finance invoice page's timeline reads an invoice's).
    __table_args__ = (
        Index("ix_audit_log_target_type_target_id", "target_type", "target_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(254))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Model):
    """A signed statement of the chain's head at one moment (`flask audit checkpoint`).

    Kept apart from the log, with no foreign key to it, so cutting the newest log rows (which
    the chain alone cannot notice: what is left still links up) leaves the checkpoint naming
    an entry the log no longer reaches."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The head: the newest entry's id, how many entries the log held, and the head's hash.
    entry_id: Mapped[int]
    entry_count: Mapped[int]
    head_hash: Mapped[str] = mapped_column(String(64))
    kid: Mapped[str] = mapped_column(String(64))
    # A JWS (compact) over the same facts, signed with the portal's current signing key.
    signature: Mapped[str] = mapped_column(Text)


class AuditLogAppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_changes(mapper, connection, target) -> None:
    raise AuditLogAppendOnlyError("audit entries cannot be changed or deleted")
