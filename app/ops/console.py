"""The pipeline's figures for the ops console, from the database's own timestamps.

A document's timeline (`document_events`) says when it entered each state; the next entry says
when it left. So a *stay* is one timeline entry with the time of the entry after it (SQL's
`lead`), and every figure here is a count or a percentile over stays:
- entered: stays that began in the window (the stage's throughput);
- p50 / p95: how long the stays that ended in the window lasted;
- past SLA: documents still in a state longer than OPS_SLA_MINUTES allows for it.
PostgreSQL computes percentiles itself (percentile_cont); SQLite, the try-it-out database,
gets the same stays and the percentiles are taken in Python.

Beside the stages, `live` says what the pipeline's dependencies are doing now, so a fault shows
while it lasts: the ERP's answers, latency and failures over the last seconds and minutes (from
the recorded calls, `app.ops.erp_calls`), the breaker, posting retries waiting, database
connections found dead, and the work the sweeper and the reconciler had to send again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.sql.selectable import CTE

from app.db import UTCDateTime, db
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState, OutboxEntry
from app.figures import percentile
from app.ops import erp_calls, reconnects
from app.posting import breaker
from app.posting.models import PostingAttempt, ReconcileRun

S = DocumentState
# The console's rows, in the order a document meets them; then the states off the main line.
STAGES: tuple[DocumentState, ...] = (
    S.RECEIVED,
    S.NORMALIZED,
    S.VALIDATED,
    S.POSTING,
    S.POSTED,
    S.PAID,
    S.APPLIED,
    S.ON_HOLD,
    S.REJECTED,
    S.DEAD,
)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
OVERDUE_SHOWN = 50


@dataclass(frozen=True)
class Window:
    """One stage's figures over one window."""

    entered: int = 0
    left: int = 0
    p50_seconds: float | None = None
    p95_seconds: float | None = None


@dataclass(frozen=True)
class StageFigures:
    state: DocumentState
    now: int
    hour: Window
    day: Window
    hourly_entries: tuple[int, ...]  # entries per hour over the last 24, oldest first
    past_sla: int = 0
    sla_minutes: int | None = None


@dataclass(frozen=True)
class Overdue:
    document_id: int
    number: str | None
    state: DocumentState
    entered: dt.datetime
    minutes: int


@dataclass(frozen=True)
class Console:
    at: dt.datetime
    stages: tuple[StageFigures, ...]
    overdue: tuple[Overdue, ...] = field(default=())


def parse_sla(text: str) -> dict[DocumentState, int]:
    """`RECEIVED=5,POSTING=30` → minutes allowed per state (unknown states are an error)."""
    minutes: dict[DocumentState, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        state, _, value = part.partition("=")
        minutes[DocumentState(state.strip().upper())] = int(value)
    return minutes


def console(now: dt.datetime, sla: Mapping[DocumentState, int]) -> Console:
    """Every stage's figures at `now`, and the documents past their SLA."""
    counts = counts_now()
    windows = stay_windows(now)
    hourly = hourly_entries(now)
    late, overdue = past_sla(now, sla)
    stages = tuple(
        StageFigures(
            state,
            counts.get(state, 0),
            windows.get((state, "hour"), Window()),
            windows.get((state, "day"), Window()),
            hourly.get(state, (0,) * 24),
            late.get(state, 0),
            sla.get(state),
        )
        for state in STAGES
    )
    return Console(now, stages, tuple(overdue))


def counts_now() -> dict[DocumentState, int]:
    rows = db.session.execute(select(Document.state, func.count()).group_by(Document.state))
    return {state: int(count) for state, count in rows}


def _stays(since: dt.datetime) -> CTE:
    """Stays of every document with a timeline entry since `since` (an index on `at` finds
    them), each with the time its document left it (NULL while it is still there)."""
    e = DocumentEvent
    touched = select(e.document_id).where(e.at >= since)
    left_at = func.lead(e.at, type_=UTCDateTime()).over(
        partition_by=e.document_id, order_by=(e.at, e.id)
    )
    return (
        select(e.to_state.label("state"), e.at.label("entered"), left_at.label("left_at"))
        .where(e.document_id.in_(touched))
        .cte("stays")
    )


def stay_windows(now: dt.datetime) -> dict[tuple[DocumentState, str], Window]:
    if db.engine.dialect.name == "postgresql":
        return _windows_in_sql(now)
    return _windows_in_python(now)


def _windows_in_sql(now: dt.datetime) -> dict[tuple[DocumentState, str], Window]:
    stays = _stays(now - DAY)
    seconds = func.extract("epoch", stays.c.left_at - stays.c.entered)
    columns = []
    for start in (now - HOUR, now - DAY):
        began = and_(stays.c.entered >= start, stays.c.entered <= now)
        ended = and_(stays.c.left_at >= start, stays.c.left_at <= now)
        in_window = case((ended, seconds))  # NULL outside: percentile_cont skips NULLs
        columns += [
            func.count(case((began, 1))),
            func.count(case((ended, 1))),
            func.percentile_cont(0.5).within_group(in_window),
            func.percentile_cont(0.95).within_group(in_window),
        ]
    query: Select = select(stays.c.state, *columns).group_by(stays.c.state)
    figures: dict[tuple[DocumentState, str], Window] = {}
    for state, *values in db.session.execute(query):
        figures[state, "hour"] = Window(*_window(values[:4]))
        figures[state, "day"] = Window(*_window(values[4:]))
    return figures


def _window(values: Sequence) -> tuple[int, int, float | None, float | None]:
    entered, left, p50, p95 = values
    return entered, left, _float(p50), _float(p95)


def _float(value) -> float | None:
    return float(value) if value is not None else None


def _windows_in_python(now: dt.datetime) -> dict[tuple[DocumentState, str], Window]:
    stays = _stays(now - DAY)
    rows = db.session.execute(select(stays.c.state, stays.c.entered, stays.c.left_at)).all()
    figures: dict[tuple[DocumentState, str], Window] = {}
    for name, start in (("hour", now - HOUR), ("day", now - DAY)):
        for state in {row.state for row in rows}:
            mine = [row for row in rows if row.state == state]
            began = [r for r in mine if start <= r.entered <= now]
            ended = [r for r in mine if r.left_at is not None and start <= r.left_at <= now]
            durations = sorted((r.left_at - r.entered).total_seconds() for r in ended)
            figures[state, name] = Window(
                len(began), len(ended), percentile(durations, 0.5), percentile(durations, 0.95)
            )
    return figures


def hourly_entries(now: dt.datetime) -> dict[DocumentState, tuple[int, ...]]:
    """Entries into each state per hour over the 24 hours before `now`, oldest hour first."""
    start = now - DAY
    e = DocumentEvent
    buckets: dict[DocumentState, list[int]] = defaultdict(lambda: [0] * 24)
    if db.engine.dialect.name == "postgresql":
        hour = func.floor(func.extract("epoch", e.at - start) / 3600)
        rows = db.session.execute(
            select(e.to_state, hour, func.count())
            .where(e.at >= start, e.at <= now)
            .group_by(e.to_state, hour)
        )
        for state, index, count in rows:
            buckets[state][min(int(index), 23)] += count
    else:
        for state, at in db.session.execute(
            select(e.to_state, e.at).where(e.at >= start, e.at <= now)
        ):
            buckets[state][min(int((at - start).total_seconds() // 3600), 23)] += 1
    return {state: tuple(counts) for state, counts in buckets.items()}


def past_sla(
    now: dt.datetime, sla: Mapping[DocumentState, int], limit: int = OVERDUE_SHOWN
) -> tuple[dict[DocumentState, int], list[Overdue]]:
    """How many documents per state entered it longer ago than its SLA allows, and the
    `limit` longest waiting of them."""
    if not sla:
        return {}, []
    e = DocumentEvent
    entered = func.max(e.at).label("entered")
    deadline = case(
        {state: now - dt.timedelta(minutes=minutes) for state, minutes in sla.items()},
        value=Document.state,
    )
    late = (
        select(Document.id, Document.document_number, Document.state, entered)
        .join(e, and_(e.document_id == Document.id, e.to_state == Document.state))
        .where(Document.state.in_(list(sla)))
        .group_by(Document.id, Document.document_number, Document.state)
        .having(func.max(e.at) < func.min(deadline))
        .subquery()
    )
    counts = db.session.execute(select(late.c.state, func.count()).group_by(late.c.state))
    longest = db.session.execute(select(late).order_by(late.c.entered, late.c.id).limit(limit))
    return {state: int(count) for state, count in counts}, [
        Overdue(doc_id, number, state, at, int((now - at).total_seconds() // 60))
        for doc_id, number, state, at in longest
    ]


# -- what is happening now -------------------------------------------------------------------

# "Now" is short enough that a fault shows while it lasts and is gone soon after it heals.
NOW = dt.timedelta(seconds=15)
RECENT = erp_calls.RECENT


@dataclass(frozen=True)
class Moment:
    """The dependencies over one window that ends now."""

    window: dt.timedelta
    erp: erp_calls.ErpFigures
    db_connections_lost: int | None  # None: Redis, where they are counted, cannot be read
    resent: int  # outbox entries the sweeper sent again (their job was lost)
    requeued: int  # documents the reconciler sent on again

    @property
    def label(self) -> str:
        seconds = int(self.window.total_seconds())
        return f"last {seconds} s" if seconds < 60 else f"last {seconds // 60} min"


@dataclass(frozen=True)
class Live:
    now: Moment
    recent: Moment
    breaker: dict[str, str]  # endpoint -> closed, open, half_open (from Redis, or "(local)")
    retries_waiting: int  # invoices in POSTING whose next try is scheduled for later

    @property
    def moments(self) -> tuple[Moment, Moment]:
        return self.now, self.recent


def live(now: dt.datetime) -> Live:
    """The dependencies now and over the last minutes."""
    return Live(
        moment(now, NOW), moment(now, RECENT), breaker.current_states(), retries_waiting(now)
    )


def moment(now: dt.datetime, window: dt.timedelta) -> Moment:
    since = now - window
    return Moment(
        window,
        erp_calls.recent(now, window),
        reconnects.lost_since(window.total_seconds(), now.timestamp()),
        resent_since(since),
        requeued_since(since),
    )


def retries_waiting(now: dt.datetime) -> int:
    query = (
        select(func.count(func.distinct(Document.id)))
        .join(PostingAttempt, PostingAttempt.document_id == Document.id)
        .where(
            Document.kind == DocumentKind.INVOICE,
            Document.state == S.POSTING,
            PostingAttempt.retry_at > now,
        )
    )
    return db.session.scalar(query) or 0


def resent_since(since: dt.datetime) -> int:
    query = select(func.count()).where(OutboxEntry.last_sent_at >= since)
    return db.session.scalar(query) or 0


def requeued_since(since: dt.datetime) -> int:
    runs = db.session.scalars(select(ReconcileRun.requeued).where(ReconcileRun.started_at >= since))
    return sum(len(ids or ()) for ids in runs)
