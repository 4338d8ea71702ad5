"""A document's record: the raw payload it arrived in, the document with its state, its
timeline, and the outbox of work still owed to it.

A document's life cycle is `state` (DocumentState), as for tier requests; organizations, bank
accounts and identity providers say `status` for the same idea. Only
`app.documents.transitions` changes it.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, TimestampMixin, UTCDateTime, enum_column, utcnow
from app.orgs.models import Organization


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    ACKNOWLEDGMENT = "acknowledgment"


class DocumentState(enum.StrEnum):
    """Invoices: RECEIVED → NORMALIZED → VALIDATED → POSTING → POSTED → PAID, with REJECTED,
    ON_HOLD and DEAD. Acknowledgments: RECEIVED → NORMALIZED → VALIDATED → APPLIED."""

    RECEIVED = "RECEIVED"
    NORMALIZED = "NORMALIZED"
    VALIDATED = "VALIDATED"
    ON_HOLD = "ON_HOLD"
    POSTING = "POSTING"
    POSTED = "POSTED"
    PAID = "PAID"
    APPLIED = "APPLIED"
    REJECTED = "REJECTED"
    DEAD = "DEAD"


class Channel(enum.StrEnum):
    """How a payload reached us."""

    API = "api"
    UPLOAD = "upload"
    PO_FLIP = "po_flip"
    # Filled in on a portal page: an acknowledgment from the PO page, a corrected invoice.
    FORM = "form"


class RawPayload(Model):
    """The bytes exactly as received, once per submission, whatever they turn out to hold."""

    __tablename__ = "raw_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    # Deferred: listing payloads must not drag megabytes of body along.
    body: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, length=16))
    sender_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # The OAuth client that sent it; a plain id so intake does not depend on the OAuth tables.
    client_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Document(TimestampMixin, Model):
    """One invoice or acknowledgment. Its state is only ever changed by `transition()`."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_sender_org_id_updated_at", "sender_org_id", "updated_at", "id"),
        Index("ix_documents_supplier_org_id_updated_at", "supplier_org_id", "updated_at", "id"),
        Index("ix_documents_supplier_org_id_number_key", "supplier_org_id", "number_key"),
        Index("ix_documents_supplier_org_id_po_number", "supplier_org_id", "po_number"),
        # Likely duplicates: the same supplier and amount, dates close together.
        Index(
            "ix_documents_supplier_org_id_total_amount",
            "supplier_org_id",
            "total_amount",
            "issue_date",
        ),
        # The finance queue's sorts (app.holds.queries): newest, amount, supplier.
        Index("ix_documents_kind_state_created_at", "kind", "state", "created_at", "id"),
        Index("ix_documents_kind_created_at", "kind", "created_at", "id"),  # every invoice
        Index("ix_documents_state_facility_code", "state", "facility_code"),  # its choices
        Index("ix_documents_kind_state_total_amount", "kind", "state", "total_amount", "id"),
        Index("ix_documents_kind_state_supplier", "kind", "state", "supplier_org_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, length=16))
    state: Mapped[DocumentState] = mapped_column(
        enum_column(DocumentState, length=16), default=DocumentState.RECEIVED, index=True
    )
    payload_id: Mapped[int] = mapped_column(ForeignKey("raw_payloads.id"), index=True)
    # Position among the documents the payload splits into (X12 transaction set, CSV invoice).
    payload_index: Mapped[int] = mapped_column(Integer, default=0)
    identity: Mapped[str] = mapped_column(String(200))
    sender_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    # The supplier the document is for: the sender itself, or the supplier a partner acts for.
    supplier_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    client_id: Mapped[int | None] = mapped_column(Integer)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(16))
    parser_version: Mapped[str | None] = mapped_column(String(32))
    # Filled at normalization so lists and filters need not open the canonical JSON.
    document_number: Mapped[str | None] = mapped_column(String(200))
    po_number: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    total_amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 6))
    # Filled at validation: the invoice number as duplicates are compared (case, spaces,
    # punctuation and leading zeros dropped), its date, and whether it is a credit note.
    number_key: Mapped[str | None] = mapped_column(String(200))
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    # A server default too: intake's one-statement insert names its columns and not this one.
    is_credit: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The PO's facility, kept at validation so the finance queue filters without the ERP.
    facility_code: Mapped[str | None] = mapped_column(String(64))
    # A cost centre finance coded a non-PO invoice to (app.holds.services.correct).
    cost_centre: Mapped[str | None] = mapped_column(String(64))
    canonical: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Filled by payment sync when the ERP reports the invoice paid (the supplier sees them).
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    payload: Mapped[RawPayload] = relationship()
    sender: Mapped[Organization] = relationship(foreign_keys=[sender_org_id])
    supplier: Mapped[Organization | None] = relationship(foreign_keys=[supplier_org_id])
    timeline: Mapped[list[DocumentEvent]] = relationship(
        back_populates="document", order_by="DocumentEvent.id"
    )

    @property
    def name(self) -> str:
        """How people call it in a heading: "Invoice KOI-INV-0001"; until its number is read,
        where it sat in its file ("Invoice INV-7", "Documents[1] J-2")."""
        if self.document_number:
            return f"{self.kind.value.capitalize()} {self.document_number}"
        return self.identity[:1].upper() + self.identity[1:]

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.kind.value} {self.state.value}>"


class DocumentEvent(Model):
    """One entry of a document's timeline: a state it entered, when, who did it and why."""

    __tablename__ = "document_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    # Indexed: the ops console and the stage metrics read the last hour's and day's entries.
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    from_state: Mapped[DocumentState | None] = mapped_column(enum_column(DocumentState, 16))
    to_state: Mapped[DocumentState] = mapped_column(enum_column(DocumentState, 16))
    actor_label: Mapped[str] = mapped_column(String(254))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")

    document: Mapped[Document] = relationship(back_populates="timeline")


class OutboxEntry(Model):
    """Work owed to a document, written in the transaction that made it due. The job that
    does the work closes the entry; the sweeper re-sends entries left open too long."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_open",
            "created_at",
            postgresql_where="completed_at IS NULL",
            sqlite_where="completed_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    command: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # How often the sweeper had to send it again, and when it last did.
    resends: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    document: Mapped[Document] = relationship()
