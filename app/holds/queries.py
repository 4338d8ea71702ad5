"""Reading the finance queue: invoices (the held ones by default) filtered by hold code,
supplier, facility, amount, age, assignee and SLA state, sorted by age, amount or supplier, a
page at a time (keyset: the sort value and id of the last row), with the open hold codes of
each, the counts per hold code, and the matching KPIs per day and per supplier."""

from __future__ import annotations

import datetime as dt
import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Exists, Select, func, select, tuple_
from sqlalchemy.orm import selectinload

from app.db import db, utcnow
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.holds.models import Question, Review
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus

PAGE_SIZE = 50
DUE_SOON = dt.timedelta(hours=8)  # an SLA running out within this is "due soon"


class View(enum.StrEnum):
    HELD = "held"
    ALL = "all"


class Sort(enum.StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    AMOUNT = "amount"  # largest first
    SUPPLIER = "supplier"  # grouped by supplier, newest first within each


class Sla(enum.StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    ON_TIME = "on_time"


UNASSIGNED = 0  # the assignee filter's value for "nobody"


@dataclass(frozen=True)
class QueueFilters:
    view: View = View.HELD
    code: HoldCode | None = None
    supplier_id: int | None = None
    facility: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_age_days: int | None = None  # received at least this many days ago
    assignee_id: int | None = None  # UNASSIGNED for nobody
    sla: Sla | None = None
    sort: Sort = Sort.NEWEST
    after: str | None = None  # keyset cursor: Cursor.encode() of the previous page's last row

    def args(self) -> dict[str, Any]:
        """The filters as query-string arguments (for links that keep them)."""
        values = {
            "view": self.view.value if self.view != View.HELD else None,
            "code": self.code.value if self.code else None,
            "supplier": self.supplier_id,
            "facility": self.facility,
            "min_amount": self.min_amount,
            "max_amount": self.max_amount,
            "age": self.min_age_days,
            "assignee": self.assignee_id,
            "sla": self.sla.value if self.sla else None,
            "sort": self.sort.value if self.sort != Sort.NEWEST else None,
        }
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class QueueRow:
    document: Document
    codes: Sequence[HoldCode]
    review: Review | None = None
    question_waiting: bool = False
    now: dt.datetime = field(default_factory=utcnow)

    @property
    def sla(self) -> Sla | None:
        if self.document.state != DocumentState.ON_HOLD or not self.review:
            return None
        return sla_state(self.review.due_at, self.now)

    @property
    def cursor(self) -> str:
        return cursor_of(self.document)


def sla_state(due_at: dt.datetime | None, now: dt.datetime) -> Sla | None:
    if due_at is None:
        return None
    if due_at <= now:
        return Sla.OVERDUE
    return Sla.DUE_SOON if due_at <= now + DUE_SOON else Sla.ON_TIME


def sla_hours(codes: Sequence[HoldCode]) -> int:
    """The SLA of an invoice held for `codes`: the shortest of its codes' (config)."""
    default = current_app.config["HOLD_SLA_HOURS"]
    by_code = current_app.config["HOLD_SLA_HOURS_BY_CODE"]
    return min((by_code.get(code.value, default) for code in codes), default=default)


# -- the page --------------------------------------------------------------------------------

SORT_KEYS = {
    Sort.NEWEST: (Document.created_at, True),
    Sort.OLDEST: (Document.created_at, False),
    Sort.AMOUNT: (Document.total_amount, True),
    Sort.SUPPLIER: (Document.supplier_org_id, False),
}


def cursor_of(document: Document, sort: Sort = Sort.NEWEST) -> str:
    value = getattr(document, SORT_KEYS[sort][0].key)
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return f"{text}~{document.id}"


def _decode(cursor: str, sort: Sort) -> tuple[Any, int] | None:
    value, _, ident = cursor.rpartition("~")
    try:
        if sort in (Sort.NEWEST, Sort.OLDEST):
            return dt.datetime.fromisoformat(value), int(ident)
        if sort is Sort.AMOUNT:
            return Decimal(value), int(ident)
        return int(value), int(ident)
    except (ValueError, InvalidOperation):
        return None  # a cursor that is not ours: start at the top


def queue(filters: QueueFilters, limit: int = PAGE_SIZE) -> list[QueueRow]:
    """Invoices matching `filters` in the chosen order, after the cursor; at most `limit`."""
    # The page names each row's supplier (or sender): loaded in one more query, not one a row.
    query = queue_statement(filters, limit).options(
        selectinload(Document.supplier), selectinload(Document.sender)
    )
    return _rows(list(db.session.scalars(query)))


def queue_statement(filters: QueueFilters, limit: int = PAGE_SIZE) -> Select:
    """The page's one query over the documents (the bench explains it)."""
    query = _filtered(filters)
    column, descending = SORT_KEYS[filters.sort]
    # The supplier and amount sorts read their own column (in the index); unknown values are left out.
    if filters.sort in (Sort.AMOUNT, Sort.SUPPLIER):
        query = query.where(column.is_not(None))
    # Supplier: grouped by supplier, newest first within each (id descending).
    id_descending = descending or filters.sort is Sort.SUPPLIER
    keyset = _decode(filters.after, filters.sort) if filters.after else None
    if keyset is not None:
        value, last_id = keyset
        if filters.sort is Sort.SUPPLIER:
            query = query.where((column > value) | ((column == value) & (Document.id < last_id)))
        elif descending:
            query = query.where(tuple_(column, Document.id) < tuple_(value, last_id))
        else:
            query = query.where(tuple_(column, Document.id) > tuple_(value, last_id))
    return query.order_by(
        column.desc() if descending else column.asc(),
        Document.id.desc() if id_descending else Document.id.asc(),
    ).limit(limit)


def _filtered(filters: QueueFilters) -> Select:
    query = select(Document).where(Document.kind == DocumentKind.INVOICE)
    if filters.view is View.HELD:
        query = query.where(Document.state == DocumentState.ON_HOLD)
    if filters.code is not None:
        query = query.where(_has_open(filters.code))
    if filters.supplier_id is not None:
        query = query.where(Document.supplier_org_id == filters.supplier_id)
    if filters.facility:
        query = query.where(Document.facility_code == filters.facility)
    if filters.min_amount is not None:
        query = query.where(Document.total_amount >= filters.min_amount)
    if filters.max_amount is not None:
        query = query.where(Document.total_amount <= filters.max_amount)
    if filters.min_age_days is not None:
        query = query.where(
            Document.created_at <= utcnow() - dt.timedelta(days=filters.min_age_days)
        )
    return _review_filters(query, filters)


# Correlated EXISTS rather than IN (subquery): walking the sort index, PostgreSQL probes each
# row's hold or review by key and stops at the page's end (a nested-loop semi or anti join).
def _has_open(code: HoldCode) -> Exists:
    return (
        select(Hold.id)
        .where(Hold.document_id == Document.id, Hold.status == HoldStatus.OPEN, Hold.code == code)
        .exists()
    )


def _has_review(*conditions: ColumnElement[bool]) -> Exists:
    return select(Review.document_id).where(Review.document_id == Document.id, *conditions).exists()


def _review_filters(query: Select, filters: QueueFilters) -> Select:
    if filters.assignee_id == UNASSIGNED:
        query = query.where(~_has_review(Review.assignee_id.is_not(None)))
    elif filters.assignee_id is not None:
        query = query.where(_has_review(Review.assignee_id == filters.assignee_id))
    if filters.sla is not None:
        now = utcnow()
        due = {
            Sla.OVERDUE: Review.due_at <= now,
            Sla.DUE_SOON: (Review.due_at > now) & (Review.due_at <= now + DUE_SOON),
            Sla.ON_TIME: Review.due_at > now + DUE_SOON,
        }[filters.sla]
        query = query.where(Document.state == DocumentState.ON_HOLD, _has_review(due))
    return query


def _rows(documents: list[Document]) -> list[QueueRow]:
    ids = [d.id for d in documents]
    codes = _codes_of(ids)
    reviews = {
        r.document_id: r
        for r in db.session.scalars(
            select(Review).where(Review.document_id.in_(ids)).options(selectinload(Review.assignee))
        )
    }
    waiting = set(
        db.session.scalars(
            select(Question.document_id).where(
                Question.document_id.in_(ids), Question.answered_at.is_(None)
            )
        )
    )
    now = utcnow()
    return [
        QueueRow(d, codes.get(d.id, []), reviews.get(d.id), d.id in waiting, now) for d in documents
    ]


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
    """How many held invoices each open hold code holds (an invoice counts once per code).
    The distinct (code, invoice) pairs come in index order; each invoice's state is read from
    the (kind, state, …) index alone."""
    pairs = (
        select(Hold.code, Hold.document_id).where(Hold.status == HoldStatus.OPEN).distinct()
    ).subquery()
    held = (
        select(Document.id)
        .where(
            Document.id == pairs.c.document_id,
            Document.kind == DocumentKind.INVOICE,
            Document.state == DocumentState.ON_HOLD,
        )
        .exists()
    )
    rows = db.session.execute(select(pairs.c.code, func.count()).where(held).group_by(pairs.c.code))
    return {HoldCode(code): count for code, count in rows}


def facilities() -> list[str]:
    """The facilities of the held invoices, for the filter's choices (the held ones only: a
    DISTINCT over every invoice ever received would read them all)."""
    query = (
        select(Document.facility_code)
        .where(Document.state == DocumentState.ON_HOLD, Document.facility_code.is_not(None))
        .distinct()
    )
    return sorted(db.session.scalars(query))


def held_invoice(document_id: int) -> Document | None:
    return db.session.scalar(
        select(Document).where(Document.id == document_id, Document.kind == DocumentKind.INVOICE)
    )


# -- KPIs ------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Verdict:
    supplier_id: int | None
    day: dt.date
    first: DocumentState
    hours: float | None  # received → validated, when it was


def _verdicts(since: dt.datetime, supplier_id: int | None) -> list[_Verdict]:
    query = (
        select(
            DocumentEvent.document_id,
            DocumentEvent.to_state,
            DocumentEvent.at,
            Document.created_at,
            Document.supplier_org_id,
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
    first: dict[int, tuple[DocumentState, dt.datetime, int | None]] = {}
    hours: dict[int, float] = {}
    for document_id, state, at, received, supplier in db.session.execute(query):
        first.setdefault(document_id, (state, received, supplier))
        if state == DocumentState.VALIDATED and document_id not in hours:
            hours[document_id] = (at - received).total_seconds() / 3600
    return [
        _Verdict(supplier, received.date(), state, hours.get(document_id))
        for document_id, (state, received, supplier) in first.items()
    ]


def _summary(verdicts: Sequence[_Verdict]) -> Kpis:
    states = [v.first for v in verdicts]
    median, p90 = _median_p90(sorted(v.hours for v in verdicts if v.hours is not None))
    return Kpis(
        checked=len(states),
        first_pass=states.count(DocumentState.VALIDATED),
        held=states.count(DocumentState.ON_HOLD),
        median_hours=median,
        p90_hours=p90,
    )


def kpis(since: dt.datetime, supplier_id: int | None = None) -> Kpis:
    """First-pass match rate, exception rate and the time from receipt to VALIDATED, for the
    invoices received since `since` (of one supplier, if given)."""
    return _summary(_verdicts(since, supplier_id))


@dataclass(frozen=True)
class KpiReport:
    overall: Kpis
    by_day: list[tuple[dt.date, Kpis]]  # newest day first
    by_supplier: list[tuple[int | None, Kpis]]  # most invoices first


def kpi_report(since: dt.datetime, supplier_id: int | None = None) -> KpiReport:
    """The figures in all, per day and per supplier, from one read of the timeline."""
    verdicts = _verdicts(since, supplier_id)
    return KpiReport(_summary(verdicts), _by_day(verdicts), _by_supplier(verdicts))


def kpis_by_day(since: dt.datetime, supplier_id: int | None = None) -> list[tuple[dt.date, Kpis]]:
    """The same figures for each day invoices were received, newest day first."""
    return _by_day(_verdicts(since, supplier_id))


def kpis_by_supplier(since: dt.datetime) -> list[tuple[int | None, Kpis]]:
    """The same figures for each supplier, most invoices first."""
    return _by_supplier(_verdicts(since, None))


def _by_day(verdicts: Sequence[_Verdict]) -> list[tuple[dt.date, Kpis]]:
    days: dict[dt.date, list[_Verdict]] = {}
    for verdict in verdicts:
        days.setdefault(verdict.day, []).append(verdict)
    return [(day, _summary(days[day])) for day in sorted(days, reverse=True)]


def _by_supplier(verdicts: Sequence[_Verdict]) -> list[tuple[int | None, Kpis]]:
    suppliers: dict[int | None, list[_Verdict]] = {}
    for verdict in verdicts:
        suppliers.setdefault(verdict.supplier_id, []).append(verdict)
    ranked = sorted(suppliers.items(), key=lambda item: -len(item[1]))
    return [(supplier, _summary(group)) for supplier, group in ranked]


def holds_by_code_since(since: dt.datetime) -> dict[HoldCode, int]:
    """Holds raised in the window, by code (open or since released)."""
    rows = db.session.execute(
        select(Hold.code, func.count()).where(Hold.created_at >= since).group_by(Hold.code)
    )
    return {code: count for code, count in rows.all()}  # noqa: C416 - rows, not pairs, for mypy


def _median_p90(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[8]
