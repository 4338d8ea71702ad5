"""The supplier's answers to the questions finance asks about a held invoice, outside the
portal's pages: the questions of a document as the supplier reads them, and an answer sent by an
API client acting for the supplier (the portal's own answer is holds.services.answer)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import CursorResult, select, update

from app.audit.services import record
from app.db import db, utcnow
from app.holds import services
from app.holds.models import Question, Review

# The longest answer the portal's form takes; the API takes the same.
MAX_ANSWER = 2000


def questions_of(document_id: int) -> list[Question]:
    """The questions finance asked about a document, oldest first (the caller has checked the
    document is the reader's to see)."""
    query = select(Question).where(Question.document_id == document_id)
    return list(db.session.scalars(query.order_by(Question.asked_at, Question.id)))


def answer_by_client(question: Question, client_label: str, text: str) -> None:
    """The supplier's answer sent by an API client acting for it: as the portal's answer
    (holds.services.answer), with the client as the audited actor and no user. The question is
    locked first, so of two answers at once the second is told it was already answered."""
    answer = text.strip()
    if not answer:
        raise services.HoldActionError("Write your answer.")
    if len(answer) > MAX_ANSWER:
        raise services.HoldActionError(f"An answer is at most {MAX_ANSWER} characters.")
    db.session.refresh(question, with_for_update=True)
    if not question.waiting:
        raise services.HoldChangedError("This question was already answered.")
    question.answer = answer
    question.answered_by_id = None
    question.answered_at = utcnow()
    document = question.document
    _bump_version(services.review_of(document))
    record(
        "invoice.info_answered",
        actor_label=client_label,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={"question": question.id},
    )


def _bump_version(review: Review) -> None:
    """The invoice changed under finance's open forms (optimistic locking, as every action
    does): the next version, on the version read, or HoldChangedError."""
    result = db.session.execute(
        update(Review)
        .where(Review.document_id == review.document_id, Review.version == review.version)
        .values(version=Review.version + 1)
    )
    if cast(CursorResult, result).rowcount != 1:
        raise services.HoldChangedError(services.CHANGED)
    db.session.expire(review)
