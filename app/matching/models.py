"""What validation keeps: one hold per failed rule on a document, open until the rule passes on
a re-check or a person resolves it. Expected, actual and the amount at risk are kept as last
found (a re-check that still fails brings them up to date)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    CursorResult,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Model, UTCDateTime, db, enum_column, utcnow
from app.documents.models import Document
from app.matching.findings import HoldCode, Severity


class BilledLine(Model):
    """What one invoice bills against each of its PO lines, signed (a credit note's lines are
    negative), written each time the invoice is checked. Summed over a PO's earlier invoices in
    one query, it is the cumulative billing that 3-way matching compares with the ERP, so a
    PO with a thousand invoices costs no more to check than one with two."""

    __tablename__ = "billed_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    po_line: Mapped[int | None] = mapped_column()
    quantity: Mapped[Decimal] = mapped_column(Numeric(24, 6))
    amount: Mapped[Decimal] = mapped_column(Numeric(24, 6))


class HoldStatus(enum.StrEnum):
    OPEN = "OPEN"
    RELEASED = "RELEASED"


# A withheld (disputed) line once its dispute is released (`Hold.followup`): owed, then posted
# as its own AP invoice or refused by the ERP (app.posting.services books it).
OWED, LINE_POSTED, LINE_REFUSED = "owed", "posted", "refused"


class Hold(Model):
    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_open_code", "status", "code", "document_id"),
        # The finance queue's "holds raised in the last 30 days, by code" (app.holds.queries).
        Index("ix_holds_created_at_code", "created_at", "code"),
        # Payment sync's posted lines not yet paid, the longest unasked first
        # (app.posting.payments): a handful among every hold ever raised.
        Index(
            "ix_holds_line_payment_due",
            "followup_checked_at",
            postgresql_where=f"followup = '{LINE_POSTED}' AND followup_paid_on IS NULL",
            sqlite_where=f"followup = '{LINE_POSTED}' AND followup_paid_on IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[HoldCode] = mapped_column(enum_column(HoldCode))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, length=16))
    status: Mapped[HoldStatus] = mapped_column(
        enum_column(HoldStatus, length=16), default=HoldStatus.OPEN
    )
    finance_message: Mapped[str] = mapped_column(Text)
    supplier_message: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(String(200))
    actual: Mapped[str | None] = mapped_column(String(200))
    amount_at_risk: Mapped[Decimal] = mapped_column(Numeric(24, 6), default=Decimal(0))
    line: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When a re-check last found the rule still failing (re-checks take the oldest first).
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_reason: Mapped[str | None] = mapped_column(Text)
    # Up by one at every change: a release form carries the version it was built on, and a
    # release of an older version is refused (two clerks at once: one wins).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The facts the hold was raised on (code, line, expected, actual), hashed: a person's
    # release suppresses the same facts on a re-check, never the whole code (`fingerprint`).
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Set when the rule passes only since a person corrected the invoice: the hold stays open,
    # "passes after correction by" them, for another person to release (four eyes).
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A DISPUTE hold's line left out of the AP invoice posted under this idempotency key.
    withheld_key: Mapped[str | None] = mapped_column(String(64))
    # The withheld line once the dispute is released (the line accepted): "owed", then
    # "posted" (as its own AP invoice, `followup_ap_invoice_id`) or "refused" by the ERP.
    followup: Mapped[str | None] = mapped_column(String(16))
    followup_ap_invoice_id: Mapped[int | None] = mapped_column(Integer)
    # The posted line's own payment, as payment sync found it in the ERP (the invoice's is on
    # the document), and when payment sync last asked (each line at most every
    # PAYMENT_SYNC_MINUTES, the longest unasked first).
    followup_paid_on: Mapped[dt.date | None] = mapped_column(Date)
    followup_payment_reference: Mapped[str | None] = mapped_column(String(64))
    followup_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    document: Mapped[Document] = relationship()
    corrected_by: Mapped[User | None] = relationship(foreign_keys=[corrected_by_id])


def fingerprint(code: HoldCode, line: str | None, expected: str | None, actual: str | None) -> str:
    """The hash of the facts a hold stands on: the same facts found again give the same one."""
    text = "\x1f".join(part or "" for part in (code.value, line, expected, actual))
    return hashlib.sha256(text.encode()).hexdigest()


class Correction(Model):
    """A field finance changed on an invoice (line → PO line, cost centre, quantity), with the
    value before and after: what the four-eyes rule on releases reads."""

    __tablename__ = "invoice_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    field: Mapped[str] = mapped_column(String(32))
    line: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(String(200))
    after: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User] = relationship()


class ErpCursor(Model):
    """How far the portal has read one of the ERP's feeds (its events, by id): each poll reads
    what came after and moves the position on in the same transaction as its work."""

    __tablename__ = "erp_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


def release_open(
    hold_ids: list[int],
    reason: str,
    released_by_id: int | None = None,
    version: int | None = None,
) -> int:
    """Release those of `hold_ids` still open, in one conditional UPDATE: of two people (or a
    person and a re-check) acting at once, only one releases a hold. None means the system
    released it (its rule passed). `version`, when given, must still be the hold's. Returns how
    many it released."""
    query = update(Hold).where(Hold.id.in_(hold_ids), Hold.status == HoldStatus.OPEN)
    if version is not None:
        query = query.where(Hold.version == version)
    result = db.session.execute(
        query.values(
            status=HoldStatus.RELEASED,
            released_at=utcnow(),
            released_by_id=released_by_id,
            release_reason=reason,
            version=Hold.version + 1,
        )
    )
    return cast(CursorResult, result).rowcount or 0
