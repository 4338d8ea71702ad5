"""Reading the finance queue: held invoices newest first a page at a time (keyset on id), with
the open hold codes of each, and how many invoices each hold code holds."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
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
        codes = found.setdefault(document_id, [])
        if code not in codes:  # a rule failing on three lines is still one reason to show
            codes.append(code)
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


@dataclass(frozen=True)
class Kpis:
    """How matching went for invoices received in the window."""

    checked: int  # reached a first verdict (validated or held)
    first_pass: int  # validated at the first check, no hold
    held: int  # held at the first check
    median_hours: float | None  # received → validated
    p90_hours: float | None

    @property
    def first_pass_rate(self) -> float | None:
        return self.first_pass / self.checked if self.checked else None

    @property
    def exception_rate(self) -> float | None:
        return self.held / self.checked if self.checked else None


def kpis(since: dt.datetime, supplier_id: int | None = None) -> Kpis:
    """First-pass match rate, exception rate and the time from receipt to VALIDATED, for the
    invoices received since `since` (of one supplier, if given)."""
    query = (
        select(
            DocumentEvent.document_id, DocumentEvent.to_state, DocumentEvent.at, Document.created_at
        )
        .join(Document, Document.id == DocumentEvent.document_id)
        .where(
            Document.kind == DocumentKind.INVOICE,
            Document.created_at >= since,
            DocumentEvent.to_state.in_((DocumentState.VALIDATED, DocumentState.ON_HOLD)),
        )
        .order_by(DocumentEvent.id)
    )
    if supplier_id is not None:
        query = query.where(Document.supplier_org_id == supplier_id)
    first: dict[int, DocumentState] = {}
    hours: dict[int, float] = {}
    for document_id, state, at, received in db.session.execute(query):
        first.setdefault(document_id, state)
        if state == DocumentState.VALIDATED and document_id not in hours:
            hours[document_id] = (at - received).total_seconds() / 3600
    verdicts = list(first.values())
    median, p90 = _median_p90(sorted(hours.values()))
    return Kpis(
        checked=len(verdicts),
        first_pass=verdicts.count(DocumentState.VALIDATED),
        held=verdicts.count(DocumentState.ON_HOLD),
        median_hours=median,
        p90_hours=p90,
    )


def _median_p90(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[8]
