"""What the ops pages read: DEAD invoices with why they died, newest first. The hospital's ops
staff see every supplier's invoices (they are all addressed to the hospital)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.posting.models import PostingAttempt

PAGE_SIZE = 100
REPLAYS_SHOWN = 20
REPLAYED = "posting.replayed"  # the audit action of a replay


@dataclass(frozen=True)
class DeadLetter:
    document: Document
    reason: str
    last_error: str | None
    attempts: int


def dead_letters(limit: int = PAGE_SIZE) -> list[DeadLetter]:
    documents = db.session.scalars(
        select(Document)
        .where(Document.state == DocumentState.DEAD, Document.kind == DocumentKind.INVOICE)
        .order_by(Document.updated_at.desc(), Document.id.desc())
        .limit(limit)
    ).all()
    return [_letter(document) for document in documents]


def why_it_died(document_id: int) -> str:
    """The reason of the document's last move to DEAD ("" if it never died)."""
    reason = db.session.scalar(
        select(DocumentEvent.reason)
        .where(
            DocumentEvent.document_id == document_id,
            DocumentEvent.to_state == DocumentState.DEAD,
        )
        .order_by(DocumentEvent.id.desc())
        .limit(1)
    )
    return reason or ""


@dataclass(frozen=True)
class Replay:
    """One replay by ops, from its audit entry, and the document it sent back to posting."""

    entry: AuditEntry
    document: Document | None


def recent_replays(limit: int = REPLAYS_SHOWN) -> list[Replay]:
    """The newest replays first, each with its document as it is now."""
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == REPLAYED)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()
    ids = [int(e.target_id) for e in entries if e.target_id and e.target_id.isdigit()]
    documents = {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(ids)))}
    return [Replay(e, documents.get(int(e.target_id or 0))) for e in entries]


def _letter(document: Document) -> DeadLetter:
    reason = why_it_died(document.id)
    attempts = db.session.scalars(
        select(PostingAttempt)
        .where(PostingAttempt.document_id == document.id)
        .order_by(PostingAttempt.attempt_no.desc())
    ).all()
    last_error = next((a.error for a in attempts if a.error), None)
    return DeadLetter(document, reason, last_error, len(attempts))
