"""The ERP calls made for documents, kept for ops: recorded from `app.erp.client.erp_called`,
read by the document finder (a document's calls) and the console (the ERP's latency and error
rate over the last minutes).

A call is recorded in a short transaction of its own, right after it, so the record survives
the unit of work that made it rolling back (a validation the ERP did not answer is retried
with nothing kept) and never joins the posting phases' transactions. One INSERT, without
waiting for the WAL flush on PostgreSQL (a diagnostic row may be lost with a crash; the
posting ledger never is). Any failure to record is logged and swallowed: the record must never
fail the call. SQLite, one writer at a time, records in the caller's unit of work instead.
Rows older than KEEP_DAYS are deleted with one record in PURGE_EVERY (at random, so every
process takes its share).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import structlog
from flask import has_app_context
from sqlalchemy import (
    ColumnElement,
    Delete,
    Insert,
    Row,
    case,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from app.db import db, table_of
from app.erp.client import ErpCall, erp_called
from app.figures import percentile
from app.ops.models import ErpCallRecord
from app.posting.models import AttemptState, PostingAttempt

log = structlog.get_logger(__name__)

KEEP_DAYS = 30
PURGE_EVERY = 1000
CALLS_SHOWN = 200
# The console's window: long enough to hold a fault, short enough to show it while it lasts.
RECENT = dt.timedelta(minutes=5)
# An answer slower than this counts as slow on the console.
SLOW_MS = 1000.0


def record(call: ErpCall) -> None:
    """Keep `call` when it was made for a document; never raises."""
    if call.document_id is None or not has_app_context():
        return
    try:
        _write(_insert(call))
    except Exception:  # a lost record must not fail the ERP call it records
        log.warning("erp call not recorded", document_id=call.document_id, exc_info=True)


def _insert(call: ErpCall) -> Insert:
    attempt = (
        select(func.max(PostingAttempt.attempt_no))
        .where(
            PostingAttempt.document_id == call.document_id,
            PostingAttempt.state == AttemptState.SENDING,
        )
        .scalar_subquery()
    )
    return insert(table_of(ErpCallRecord)).values(
        at=call.at,
        document_id=call.document_id,
        method=call.method[:8],
        endpoint=call.endpoint[:200],
        path=call.path[:500],
        status=call.status,
        error=(call.error or None) and call.error[:100],
        duration_ms=round(call.seconds * 1000, 1),
        correlation_id=(call.correlation_id or None) and call.correlation_id[:64],
        idempotency_key=(call.idempotency_key or None) and call.idempotency_key[:64],
        attempt_no=attempt,
        detail=(call.detail or None) and call.detail[:1000],
    )


def _write(statement: Insert) -> None:
    bind = db.session.get_bind(ErpCallRecord.__mapper__)
    if bind.dialect.name == "sqlite":
        db.session.execute(statement)
        return
    if isinstance(bind, Engine):
        with bind.begin() as connection:  # a connection and a transaction of its own
            _insert_quickly(connection, statement)
    else:  # a test's connection inside its outer transaction: a savepoint on it
        with bind.begin_nested():
            _insert_quickly(bind, statement)


def _insert_quickly(connection: Connection, statement: Insert) -> None:
    connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
    connection.execute(statement)
    if random.random() < 1 / PURGE_EVERY:  # noqa: S311 - how often to purge, not a secret
        connection.execute(_purge(dt.datetime.now(dt.UTC)))


def _purge(now: dt.datetime) -> Delete:
    return delete(ErpCallRecord).where(ErpCallRecord.at < now - dt.timedelta(days=KEEP_DAYS))


erp_called.connect(record)


# -- what ops read ---------------------------------------------------------------------------


def calls_of(document_id: int, limit: int = CALLS_SHOWN) -> list[ErpCallRecord]:
    """The document's calls, oldest first (the newest `limit` of them)."""
    newest = (
        select(ErpCallRecord)
        .where(ErpCallRecord.document_id == document_id)
        .order_by(ErpCallRecord.at.desc(), ErpCallRecord.id.desc())
        .limit(limit)
    )
    return sorted(db.session.scalars(newest), key=lambda c: (c.at, c.id))


def _failed_in_sql() -> ColumnElement[bool]:
    """`failed`, as SQL."""
    status = ErpCallRecord.status
    return status.is_(None) | (status == 429) | (status >= 500)


def failed(call: ErpCallRecord) -> bool:
    """No answer, or an answer that is the ERP's failure (5xx, 429) rather than a business one."""
    return call.status is None or call.status == 429 or call.status >= 500


@dataclass(frozen=True)
class ErpFigures:
    """The ERP as the documents' calls saw it over the last `window`."""

    window: dt.timedelta
    calls: int
    failures: int  # no answer (refused, timed out), 5xx or 429
    timeouts: int
    slow: int  # took more than SLOW_MS (timeouts included)
    p50_ms: float | None
    p95_ms: float | None
    last_failure: str | None  # the newest failure's error or detail
    # Failures by kind ("HTTP 503", "ReadTimeout", "ConnectionError"), the most frequent first.
    kinds: tuple[tuple[str, int], ...] = ()

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None


def recent(now: dt.datetime, window: dt.timedelta = RECENT) -> ErpFigures:
    """Counts and percentiles over the calls of the last `window` (an index on `at`)."""
    r = ErpCallRecord
    since = (r.at >= now - window) & (r.at <= now)
    no_answer = _failed_in_sql()
    timed_out = r.error.in_(("ReadTimeout", "ConnectTimeout"))
    calls, failures, timeouts, slow = db.session.execute(
        select(
            func.count(),
            func.count(case((no_answer, 1))),
            func.count(case((timed_out, 1))),
            func.count(case((r.duration_ms > SLOW_MS, 1))),
        ).where(since)
    ).one()
    p50, p95 = _percentiles(since)
    newest_failure = db.session.execute(
        select(r.error, r.detail, r.status).where(since, no_answer).order_by(r.at.desc()).limit(1)
    ).first()
    return ErpFigures(
        window, calls, failures, timeouts, slow, p50, p95, _describe(newest_failure), _kinds(since)
    )


def _kinds(since: ColumnElement[bool]) -> tuple[tuple[str, int], ...]:
    r = ErpCallRecord
    rows = db.session.execute(
        select(r.error, r.status, func.count())
        .where(since, _failed_in_sql())
        .group_by(r.error, r.status)
    )
    counted = [(error or f"HTTP {status}", int(count)) for error, status, count in rows]
    return tuple(sorted(counted, key=lambda kind: (-kind[1], kind[0])))


def _percentiles(since: ColumnElement[bool]) -> tuple[float | None, float | None]:
    duration = ErpCallRecord.duration_ms
    if db.engine.dialect.name == "postgresql":
        p50, p95 = db.session.execute(
            select(
                func.percentile_cont(0.5).within_group(duration),
                func.percentile_cont(0.95).within_group(duration),
            ).where(since)
        ).one()
        return p50, p95
    durations = sorted(db.session.scalars(select(duration).where(since)))
    return percentile(durations, 0.5), percentile(durations, 0.95)


def _describe(row: Row | None) -> str | None:
    if row is None:
        return None
    error, detail, status = row
    return detail or error or f"HTTP {status}"
