"""Reading holds back (callers have already checked the document is visible to them)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.matching.models import Hold


def holds_of(document_id: int) -> list[Hold]:
    """Every hold of a document, oldest first, open and released alike."""
    return list(
        db.session.scalars(select(Hold).where(Hold.document_id == document_id).order_by(Hold.id))
    )
