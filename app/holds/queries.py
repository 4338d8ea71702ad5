"""Reading the finance queue: held invoices newest first a page at a time (keyset on id), with
the open hold codes of each, and how many invoices each hold code holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from app.db import db
from app.documents.models import Document, DocumentKind, DocumentState
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueFilters:
    code: HoldCode | None = None
    supplier_id: int | None = None
    before_id: int | None = None  # keyset: the last id of the previous page


@dataclass(frozen=True)
class QueueRow:
    document: Document
    codes: Sequence[HoldCode]


def _open_holds():
    return select(Hold.document_id).where(Hold.status == HoldStatus.OPEN)


def queue(filters: QueueFilters, limit: int = PAGE_SIZE) -> list[QueueRow]:
    """Held invoices matching `filters`, newest first; at most `limit`."""
    query = select(Document).where(
        Document.kind == DocumentKind.INVOICE, Document.state == DocumentState.ON_HOLD
    )
    if filters.code is not None:
        query = query.where(Document.id.in_(_open_holds().where(Hold.code == filters.code)))
    if filters.supplier_id is not None:
        query = query.where(Document.supplier_org_id == filters.supplier_id)
    if filters.before_id is not None:
        query = query.where(Document.id < filters.before_id)
    documents = list(db.session.scalars(query.order_by(Document.id.desc()).limit(limit)))
    codes = _codes_of([d.id for d in documents])
    return [QueueRow(d, codes.get(d.id, [])) for d in documents]


def _codes_of(document_ids: list[int]) -> dict[int, list[HoldCode]]:
    rows = db.session.execute(
        select(Hold.document_id, Hold.code)
        .where(Hold.document_id.in_(document_ids), Hold.status == HoldStatus.OPEN)
        .order_by(Hold.id)
    )
    found: dict[int, list[HoldCode]] = {}
    for document_id, code in rows:
        found.setdefault(document_id, []).append(code)
    return found


def counts_by_code() -> dict[HoldCode, int]:
    """How many held invoices each open hold code holds (an invoice counts once per code)."""
    rows = db.session.execute(
        select(Hold.code, func.count(func.distinct(Hold.document_id)))
        .join(Document, Document.id == Hold.document_id)
        .where(Hold.status == HoldStatus.OPEN, Document.state == DocumentState.ON_HOLD)
        .group_by(Hold.code)
    )
    return {code: count for code, count in rows.all()}  # noqa: C416 - rows, not pairs, for mypy


def held_invoice(document_id: int) -> Document | None:
    return db.session.scalar(
        select(Document).where(Document.id == document_id, Document.kind == DocumentKind.INVOICE)
    )
