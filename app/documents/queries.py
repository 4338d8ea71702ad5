"""Reading documents back, always scoped to one organization: the one that sent them or the
supplier they were sent for. Anything else does not exist for the caller."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select, tuple_

from app.db import db
from app.documents.models import Document, DocumentKind, DocumentState

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class BadCursorError(ValueError):
    pass


def visible_to(org_id: int) -> ColumnElement[bool]:
    return or_(Document.sender_org_id == org_id, Document.supplier_org_id == org_id)


def visible_document(document_id: int, org_id: int) -> Document | None:
    """The document if `org_id` may see it; None for a missing one and another's alike."""
    return db.session.scalar(select(Document).where(Document.id == document_id, visible_to(org_id)))


@dataclass(frozen=True)
class Filters:
    kind: DocumentKind | None = None
    states: Sequence[DocumentState] = ()
    updated_since: dt.datetime | None = None


@dataclass(frozen=True)
class Page:
    items: list[Document]
    next_cursor: str | None


def encode_cursor(document: Document) -> str:
    raw = json.dumps([document.updated_at.isoformat(), document.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, document_id = json.loads(raw)
        when = dt.datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise BadCursorError("cursor is not one this API gave out") from error
    if when.tzinfo is None or not isinstance(document_id, int):
        raise BadCursorError("cursor is not one this API gave out")
    return when, document_id


def _filtered(org_id: int, filters: Filters) -> Select[Document]:
    query = select(Document).where(visible_to(org_id))
    if filters.kind is not None:
        query = query.where(Document.kind == filters.kind)
    if filters.states:
        query = query.where(Document.state.in_(filters.states))
    if filters.updated_since is not None:
        query = query.where(Document.updated_at >= filters.updated_since)
    return query


def page(org_id: int, filters: Filters, cursor: str | None, limit: int) -> Page:
    """Oldest change first, so a client syncing with `updated_since` never skips a change;
    the cursor is the (updated_at, id) of the last item, which orders every row uniquely."""
    query = _filtered(org_id, filters)
    if cursor:
        query = query.where(tuple_(Document.updated_at, Document.id) > decode_cursor(cursor))
    limit = max(1, min(limit, MAX_LIMIT))
    rows = list(
        db.session.scalars(query.order_by(Document.updated_at, Document.id).limit(limit + 1))
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1]) if more else None)


def newest_first(org_id: int, filters: Filters, offset: int, limit: int) -> list[Document]:
    """For the portal's list: the latest documents first, a plain page at a time."""
    query = _filtered(org_id, filters).order_by(Document.updated_at.desc(), Document.id.desc())
    return list(db.session.scalars(query.offset(offset).limit(limit)))


def locked_document(document_id: int) -> Document | None:
    """The document, row-locked for this transaction so two runs of a job cannot interleave."""
    return db.session.scalar(
        select(Document).where(Document.id == document_id).with_for_update(of=Document)
    )
