"""Reading the finance queue: invoices (the held ones by default) filtered by hold code,
supplier, facility, amount, age, assignee and SLA state, sorted by age, amount or supplier, a
page at a time (keyset: the sort value and id of the last row), with the open hold codes of
each, the counts per hold code, and the matching KPIs per day and per supplier."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Date, Exists, Select, case, cast, func, select, text, tuple_
from sqlalchemy.orm import selectinload

from app.db import db, utcnow
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.figures import percentile
from app.holds.models import Question, Review
from app.matching.findings import LINE_ONLY, HoldCode
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


def neighbours(filters: QueueFilters, document: Document) -> tuple[int | None, int | None]:
    """The invoices before and after `document` in the queue as `filters` order it (the ids,
    None at either end): where the invoice page's previous and next keys go."""
    column, descending = SORT_KEYS[filters.sort]
    value = getattr(document, column.key)
    if value is None:
        return None, None  # not in a list sorted by a value it lacks
    query = _filtered(filters).with_only_columns(Document.id)
    if filters.sort in (Sort.AMOUNT, Sort.SUPPLIER):
        query = query.where(column.is_not(None))
    ahead, behind = _sides(column, value, document.id, filters.sort, descending)
    after = query.where(ahead[0]).order_by(*ahead[1]).limit(1)
    before = query.where(behind[0]).order_by(*behind[1]).limit(1)
    return db.session.scalar(before), db.session.scalar(after)


def _sides(column: Any, value: Any, ident: int, sort: Sort, descending: bool) -> tuple[Any, Any]:
    """(condition, order) for the rows after and the rows before a row, in the queue's order."""
    if sort is Sort.SUPPLIER:  # supplier ascending, then id descending
        after = (column > value) | ((column == value) & (Document.id < ident))
        before = (column < value) | ((column == value) & (Document.id > ident))
        return (after, (column.asc(), Document.id.desc())), (
            before,
            (column.desc(), Document.id.asc()),
        )
    key, mark = tuple_(column, Document.id), tuple_(value, ident)
    down = (key < mark, (column.desc(), Document.id.desc()))
    up = (key > mark, (column.asc(), Document.id.asc()))
    return (down, up) if descending else (up, down)


def _filtered(filters: QueueFilters) -> Select:
    query = select(Document).where(Document.kind == DocumentKind.INVOICE)
    if filters.view is View.HELD and filters.code not in LINE_ONLY:
        # A disputed line is finance's work though its invoice went on without it: listed by
        # its code in any state (the open hold itself is the filter).
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
    """How many held invoices each open hold code holds (an invoice counts once per code; a
    disputed line counts whatever its invoice's state, as its list shows it). The distinct
    (code, invoice) pairs come in index order; each invoice's state is read from the
    (kind, state, …) index alone."""
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
    line_only = pairs.c.code.in_(sorted(LINE_ONLY))
    _serial_without_jit()
    rows = db.session.execute(
        select(pairs.c.code, func.count()).where(held | line_only).group_by(pairs.c.code)
    )
    return {HoldCode(code): count for code, count in rows}


def _serial_without_jit() -> None:
    """For the rest of this transaction, on PostgreSQL: no parallel workers and no JIT. The
    counts read tens of thousands of index entries, and the planner's estimate for the OR'd
    semi-join crosses both thresholds, but starting workers and compiling cost more than they
    save: 59 → 28 ms median at a million invoices (bench/queue_bench.py)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                "SELECT set_config('jit', 'off', true),"
                " set_config('max_parallel_workers_per_gather', '0', true)"
            )
        )


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
#
# Computed by the database: one row per invoice (its first verdict and when it was validated)
# reduced to counts and percentiles in one grouped query (GROUPING SETS: overall, per day, per
# supplier) on PostgreSQL; SQLite, which has neither percentile_cont nor grouping sets, reads
# the same per-invoice rows and reduces them in Python to the same figures.

VERDICTS = (DocumentState.VALIDATED, DocumentState.ON_HOLD, DocumentState.REJECTED)


@dataclass(frozen=True)
class Kpis:
    """How matching went for invoices received in the window (of one day or one supplier)."""

    checked: int  # reached a first verdict: validated, held or rejected
    first_pass: int  # validated at the first check, no hold
    held: int  # held at the first check
    median_hours: float | None  # received → validated
    p90_hours: float | None
    rejected: int = 0  # rejected at the first verdict (counted in the rates' denominator)
    holds: Mapping[HoldCode, int] = field(default_factory=dict)  # holds raised, by code

    @property
    def first_pass_rate(self) -> float | None:
        return self.first_pass / self.checked if self.checked else None

    @property
    def exception_rate(self) -> float | None:
        return self.held / self.checked if self.checked else None


@dataclass(frozen=True)
class KpiReport:
    overall: Kpis
    by_day: list[tuple[dt.date, Kpis]]  # newest day first
    by_supplier: list[tuple[int | None, Kpis]]  # most invoices first


@dataclass(frozen=True)
class _Counts:
    checked: int = 0
    first_pass: int = 0
    held: int = 0
    rejected: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None

    def kpis(self, holds: Mapping[HoldCode, int] | None = None) -> Kpis:
        return Kpis(
            checked=self.checked,
            first_pass=self.first_pass,
            held=self.held,
            median_hours=self.median_hours,
            p90_hours=self.p90_hours,
            rejected=self.rejected,
            holds=dict(holds or {}),
        )


def kpi_report(since: dt.datetime, supplier_id: int | None = None) -> KpiReport:
    """First-pass match rate, exception rate, the time from receipt to VALIDATED and the holds
    raised by code, for the invoices received since `since` (of one supplier, if given): in all,
    per day and per supplier."""
    if db.session.get_bind().dialect.name == "postgresql":
        overall, days, suppliers = _counts_in_sql(since, supplier_id)
    else:
        overall, days, suppliers = _counts_in_python(since, supplier_id)
    holds_by_day, holds_by_supplier = _holds_raised(since, supplier_id)
    return KpiReport(
        overall.kpis(_summed(holds_by_day.values())),
        _days(days, holds_by_day),
        _suppliers(suppliers, holds_by_supplier),
    )


def kpis(since: dt.datetime, supplier_id: int | None = None) -> Kpis:
    return kpi_report(since, supplier_id).overall


def kpis_by_day(since: dt.datetime, supplier_id: int | None = None) -> list[tuple[dt.date, Kpis]]:
    """The same figures for each day invoices were received, newest day first."""
    return kpi_report(since, supplier_id).by_day


def kpis_by_supplier(since: dt.datetime) -> list[tuple[int | None, Kpis]]:
    """The same figures for each supplier, most invoices first."""
    return kpi_report(since).by_supplier


def holds_by_code_since(since: dt.datetime, supplier_id: int | None = None) -> dict[HoldCode, int]:
    """Holds raised in the window, by code (open or since released)."""
    return _summed(_holds_raised(since, supplier_id)[0].values())


def _days(
    counts: Mapping[dt.date, _Counts], holds: Mapping[dt.date, Mapping[HoldCode, int]]
) -> list[tuple[dt.date, Kpis]]:
    days = sorted(set(counts) | set(holds), reverse=True)
    return [(day, counts.get(day, _Counts()).kpis(holds.get(day))) for day in days]


def _suppliers(
    counts: Mapping[int | None, _Counts], holds: Mapping[int | None, Mapping[HoldCode, int]]
) -> list[tuple[int | None, Kpis]]:
    ranked = sorted(counts, key=lambda supplier: (-counts[supplier].checked, supplier or 0))
    return [(supplier, counts[supplier].kpis(holds.get(supplier))) for supplier in ranked]


def _summed(groups: Iterable[Mapping[HoldCode, int]]) -> dict[HoldCode, int]:
    total: dict[HoldCode, int] = {}
    for group in groups:
        for code, count in group.items():
            total[code] = total.get(code, 0) + count
    return total


def _day(column: Any) -> ColumnElement:
    """The UTC calendar day of a timestamp column."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: dt.date | str) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _first_verdicts(since: dt.datetime, supplier_id: int | None) -> Select:
    """One row per invoice received since `since` that reached a verdict: when it was received,
    its supplier, its first verdict (validated, held or rejected) and when it was validated.
    One pass over the window's entries: the first verdict is the state whose first entry has
    the lowest id, so no entry is read twice."""
    e = DocumentEvent

    def first(state: DocumentState) -> Any:
        return func.min(case((e.to_state == state, e.id))).label(state.value.lower())

    per_invoice = (
        select(
            Document.created_at.label("received"),
            Document.supplier_org_id.label("supplier"),
            first(DocumentState.VALIDATED),
            first(DocumentState.ON_HOLD),
            first(DocumentState.REJECTED),
            func.min(case((e.to_state == DocumentState.VALIDATED, e.at))).label("validated_at"),
        )
        .join(Document, Document.id == e.document_id)
        # Events of an invoice received since `since` all happened since then: the condition on
        # `at` lets the database read the events by their time index.
        .where(
            Document.kind == DocumentKind.INVOICE,
            Document.created_at >= since,
            e.at >= since,
            e.to_state.in_(VERDICTS),
        )
        .group_by(e.document_id, Document.created_at, Document.supplier_org_id)
    )
    if supplier_id is not None:
        per_invoice = per_invoice.where(Document.supplier_org_id == supplier_id)
    firsts = per_invoice.subquery("firsts")
    validated, held, rejected = firsts.c.validated, firsts.c.on_hold, firsts.c.rejected
    verdict = case(
        (
            validated.is_not(None)
            & (held.is_(None) | (validated < held))
            & (rejected.is_(None) | (validated < rejected)),
            DocumentState.VALIDATED.value,
        ),
        (held.is_not(None) & (rejected.is_(None) | (held < rejected)), DocumentState.ON_HOLD.value),
        else_=DocumentState.REJECTED.value,
    )
    return select(
        firsts.c.received, firsts.c.supplier, verdict.label("verdict"), firsts.c.validated_at
    )


Grouped = tuple[_Counts, dict[dt.date, _Counts], dict[int | None, _Counts]]


def _counts_in_sql(since: dt.datetime, supplier_id: int | None) -> Grouped:
    rows = _first_verdicts(since, supplier_id).subquery("verdicts")
    day = _day(rows.c.received).label("day")
    hours = case(
        (
            rows.c.validated_at.is_not(None),
            func.extract("epoch", rows.c.validated_at - rows.c.received) / 3600,
        )
    )

    def verdicts(state: DocumentState) -> ColumnElement:
        return func.count(case((rows.c.verdict == state, 1)))

    query = select(
        func.grouping(day),
        func.grouping(rows.c.supplier),
        day,
        rows.c.supplier,
        func.count(),
        verdicts(DocumentState.VALIDATED),
        verdicts(DocumentState.ON_HOLD),
        verdicts(DocumentState.REJECTED),
        func.percentile_cont(0.5).within_group(hours),
        func.percentile_cont(0.9).within_group(hours),
    ).group_by(func.grouping_sets(tuple_(day), tuple_(rows.c.supplier), tuple_()))
    overall, days, suppliers = _Counts(), {}, {}
    for (
        no_day,
        no_supplier,
        on,
        supplier,
        checked,
        passed,
        held,
        rejected,
        p50,
        p90,
    ) in db.session.execute(query):
        counts = _Counts(checked, passed, held, rejected, _float(p50), _float(p90))
        if no_day and no_supplier:
            overall = counts
        elif no_supplier:
            days[_as_date(on)] = counts
        else:
            suppliers[supplier] = counts
    return overall, days, suppliers


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _counts_in_python(since: dt.datetime, supplier_id: int | None) -> Grouped:
    rows = db.session.execute(_first_verdicts(since, supplier_id)).all()
    days: dict[dt.date, list[Any]] = {}
    suppliers: dict[int | None, list[Any]] = {}
    for row in rows:
        days.setdefault(row.received.date(), []).append(row)
        suppliers.setdefault(row.supplier, []).append(row)
    return (
        _reduced(rows),
        {day: _reduced(group) for day, group in days.items()},
        {supplier: _reduced(group) for supplier, group in suppliers.items()},
    )


def _reduced(rows: Sequence[Any]) -> _Counts:
    verdicts = [row.verdict for row in rows]
    hours = sorted(
        (row.validated_at - row.received).total_seconds() / 3600
        for row in rows
        if row.validated_at is not None
    )
    return _Counts(
        checked=len(rows),
        first_pass=verdicts.count(DocumentState.VALIDATED),
        held=verdicts.count(DocumentState.ON_HOLD),
        rejected=verdicts.count(DocumentState.REJECTED),
        median_hours=percentile(hours, 0.5),
        p90_hours=percentile(hours, 0.9),
    )


def _holds_raised(
    since: dt.datetime, supplier_id: int | None
) -> tuple[dict[dt.date, dict[HoldCode, int]], dict[int | None, dict[HoldCode, int]]]:
    """Holds raised on invoices since `since`, counted by code per day raised and per supplier
    (two small grouped reads over the holds' time index)."""
    by_day: dict[dt.date, dict[HoldCode, int]] = {}
    for on, code, count in _holds_counted(_day(Hold.created_at), since, supplier_id):
        by_day.setdefault(_as_date(on), {})[HoldCode(code)] = count
    by_supplier: dict[int | None, dict[HoldCode, int]] = {}
    for supplier, code, count in _holds_counted(Document.supplier_org_id, since, supplier_id):
        by_supplier.setdefault(supplier, {})[HoldCode(code)] = count
    return by_day, by_supplier


def _holds_counted(key: Any, since: dt.datetime, supplier_id: int | None) -> Any:
    query = (
        select(key, Hold.code, func.count())
        .join(Document, Document.id == Hold.document_id)
        .where(Hold.created_at >= since, Document.kind == DocumentKind.INVOICE)
        .group_by(key, Hold.code)
    )
    if supplier_id is not None:
        query = query.where(Document.supplier_org_id == supplier_id)
    return db.session.execute(query)
