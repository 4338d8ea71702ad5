"""What the ops pages read: DEAD invoices with why they died, newest first. The hospital's ops
staff see every supplier's invoices (they are all addressed to the hospital)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.posting.models import PostingAttempt

PAGE_SIZE = 100


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


def _letter(document: Document) -> DeadLetter:
    reason = db.session.scalar(
        select(DocumentEvent.reason)
        .where(
            DocumentEvent.document_id == document.id,
            DocumentEvent.to_state == DocumentState.DEAD,
        )
        .order_by(DocumentEvent.id.desc())
        .limit(1)
    )
    attempts = db.session.scalars(
        select(PostingAttempt)
        .where(PostingAttempt.document_id == document.id)
        .order_by(PostingAttempt.attempt_no.desc())
    ).all()
    last_error = next((a.error for a in attempts if a.error), None)
    return DeadLetter(document, reason or "", last_error, len(attempts))
