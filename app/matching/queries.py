"""Reading holds back (callers have already checked the document is visible to them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.db import db
from app.documents.models import Document
from app.matching.findings import LINE_ONLY
from app.matching.models import Hold, HoldStatus


def holds_of(document_id: int) -> list[Hold]:
    """Every hold of a document, oldest first, open and released alike."""
    return list(
        db.session.scalars(select(Hold).where(Hold.document_id == document_id).order_by(Hold.id))
    )


def disputed_lines(document_id: int) -> set[str]:
    """The lines of a document an open DISPUTE hold keeps back."""
    query = select(Hold.line).where(
        Hold.document_id == document_id,
        Hold.status == HoldStatus.OPEN,
        Hold.code.in_(LINE_ONLY),
        Hold.line.is_not(None),
    )
    return {line for line in db.session.scalars(query) if line}


def waits_on(document: Document, open_holds: Sequence[Hold] | None = None) -> bool:
    """Whether the invoice as a whole must wait: an open hold other than a disputed line, or
    every line disputed (nothing would be left to post). A disputed line alone lets the rest of
    the invoice go on: its amount stays held (app.holds.services.dispute_line)."""
    if open_holds is None:
        query = select(Hold).where(Hold.document_id == document.id, Hold.status == HoldStatus.OPEN)
        open_holds = list(db.session.scalars(query))
    if any(hold.code not in LINE_ONLY for hold in open_holds):
        return True
    disputed = {hold.line for hold in open_holds}
    lines = {line.get("line_id") for line in (document.canonical or {}).get("lines", [])}
    return bool(lines) and lines <= disputed
