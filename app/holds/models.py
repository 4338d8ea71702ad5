"""What finance keeps about an invoice beside its holds: who works it and by when (the review,
with the version two clerks' forms are checked against), internal comments and the questions
asked of the supplier. Corrections live with matching (`app.matching.models.Correction`),
which reads them on every re-check."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Model, UTCDateTime, utcnow
from app.documents.models import Document


class Review(Model):
    """One per invoice finance has looked at or that was held: the assignee and the SLA clock.
    `version` goes up with every action (app.holds.services._bump, a conditional UPDATE), so a
    form built on an older version is refused (optimistic locking)."""

    __tablename__ = "invoice_reviews"
    __table_args__ = (
        Index("ix_invoice_reviews_assignee_id", "assignee_id", "document_id"),
        Index("ix_invoice_reviews_due_at", "due_at", "document_id"),
    )

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the SLA of its hold codes runs out (the shortest of them, from held_at).
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    assignee: Mapped[User | None] = relationship()


class Comment(Model):
    """An internal note on an invoice: finance only, never shown to the supplier."""

    __tablename__ = "invoice_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship()


class Question(Model):
    """Information finance asked the supplier for; open until the supplier answers."""

    __tablename__ = "invoice_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    asked_by: Mapped[User] = relationship(foreign_keys=[asked_by_id])
    document: Mapped[Document] = relationship()

    @property
    def waiting(self) -> bool:
        return self.answered_at is None
