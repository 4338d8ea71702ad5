"""The console's figures against five invoices whose timelines are known to the second."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_migrate import upgrade
from redis import Redis
from rq import Queue, Worker
from rq.utils import utcformat
from rq.worker import WorkerStatus
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.db import db, utcnow
from app.documents.models import DocumentState, OutboxEntry
from app.jobs import ERP_QUEUE, redis_connection
from app.ops import console, erp_calls, reconnects
from app.ops.models import ErpCallRecord
from app.posting import breaker
from app.posting.models import AttemptState, PostingAttempt, ReconcileRun
from tests.factories.documents import DocumentFactory

S = DocumentState
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
SLA = {S.RECEIVED: 5, S.NORMALIZED: 5, S.ON_HOLD: 2880}


@pytest.fixture
def now() -> dt.datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture
def known(now):
    return build_known(now)


def build_known(now: dt.datetime) -> dict:
    """A: through to POSTED in the last hour; B: waiting NORMALIZED for 17 min; C: held 2 h
    ago; D: received 30 h ago, rejected 5 h ago; E: waiting RECEIVED for 10 min."""
    return {
        "A": DocumentFactory(
            timeline=[
                (S.RECEIVED, now - 50 * MIN),
                (S.NORMALIZED, now - 49 * MIN),  # 60 s received
                (S.VALIDATED, now - 45 * MIN),  # 240 s normalized
                (S.POSTING, now - 40 * MIN),  # 300 s validated
                (S.POSTED, now - 30 * MIN),  # 600 s posting
            ]
        ),
        "B": DocumentFactory(
            timeline=[(S.RECEIVED, now - 20 * MIN), (S.NORMALIZED, now - 17 * MIN)]  # 180 s
        ),
        "C": DocumentFactory(
            timeline=[
                (S.RECEIVED, now - 3 * HOUR),
                (S.NORMALIZED, now - 3 * HOUR + 2 * MIN),  # 120 s received
                (S.ON_HOLD, now - 2 * HOUR),  # 3480 s normalized
            ]
        ),
        "D": DocumentFactory(
            timeline=[(S.RECEIVED, now - 30 * HOUR), (S.REJECTED, now - 5 * HOUR)]  # 90000 s
        ),
        "E": DocumentFactory(timeline=[(S.RECEIVED, now - 10 * MIN)]),
    }


def stage(figures: console.Console, state: DocumentState) -> console.StageFigures:
    return next(s for s in figures.stages if s.state is state)


def test_counts_throughput_and_percentiles_per_stage(known, now):
    check_figures(console.console(now, SLA))


def check_figures(figures: console.Console) -> None:
    assert {s.state: s.now for s in figures.stages if s.now} == {
        S.POSTED: 1,
        S.NORMALIZED: 1,
        S.ON_HOLD: 1,
        S.REJECTED: 1,
        S.RECEIVED: 1,
    }
    received = stage(figures, S.RECEIVED)
    # Entered in the hour: A, B, E; in the day also C (D entered 30 h ago).
    assert (received.hour.entered, received.day.entered) == (3, 4)
    # Stays that ended in the hour: A 60 s, B 180 s; in the day also C 120 s and D 90000 s.
    assert received.hour == console.Window(3, 2, 120.0, pytest.approx(174.0))
    assert received.day.left == 4
    assert received.day.p50_seconds == pytest.approx(150.0)
    assert received.day.p95_seconds == pytest.approx(180 + 0.85 * (90000 - 180))
    normalized = stage(figures, S.NORMALIZED)
    assert normalized.hour == console.Window(2, 1, 240.0, 240.0)
    assert normalized.day == console.Window(3, 2, 1860.0, pytest.approx(240 + 0.95 * 3240))
    assert stage(figures, S.POSTING).hour == console.Window(1, 1, 600.0, 600.0)
    assert stage(figures, S.POSTED).hour == console.Window(1, 0, None, None)
    assert stage(figures, S.ON_HOLD).hour.entered == 0
    assert stage(figures, S.ON_HOLD).day.entered == 1
    assert stage(figures, S.REJECTED).day == console.Window(1, 0, None, None)


@pytest.mark.no_db
def test_sqlite_gives_the_same_figures(tmp_path):
    """`make run`'s SQLite has no percentile_cont: the same stays, percentiles in Python."""
    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.sqlite'}"},
    )
    with app.app_context():
        upgrade(revision="heads")
        now = utcnow().replace(microsecond=0)
        build_known(now)
        check_figures(console.console(now, SLA))
        assert [d.minutes for d in console.console(now, SLA).overdue] == [17, 10]
        erp_calls_known(now, 1)
        latest = erp_calls.recent(now, console.NOW)
        assert (latest.calls, latest.failures, latest.p50_ms) == (3, 2, 100.0)
        assert latest.p95_ms == pytest.approx(1810.0)
        db.session.rollback()
        db.engine.dispose()


def test_hourly_entries_fall_in_their_hour(known, now):
    received = stage(console.console(now, SLA), S.RECEIVED).hourly_entries
    assert len(received) == 24
    assert received[23] == 3  # A, B and E, in the last hour
    assert received[21] == 1  # C, three hours ago
    assert sum(received) == 4


def test_documents_past_their_sla_longest_waiting_first(known, now):
    figures = console.console(now, SLA)
    assert [(d.document_id, d.state, d.minutes) for d in figures.overdue] == [
        (known["B"].id, S.NORMALIZED, 17),
        (known["E"].id, S.RECEIVED, 10),
    ]
    assert stage(figures, S.RECEIVED).past_sla == 1
    assert stage(figures, S.ON_HOLD).past_sla == 0  # held 2 h of the 48 allowed


def test_percentiles_in_python_match_postgresql():
    assert console.percentile([60, 120, 180, 90000], 0.5) == 150
    assert console.percentile([60, 180], 0.95) == pytest.approx(174)
    assert console.percentile([], 0.5) is None


def test_sla_setting_is_read_per_state():
    assert console.parse_sla("received=5, POSTING=30") == {S.RECEIVED: 5, S.POSTING: 30}
    with pytest.raises(ValueError, match="LOST"):
        console.parse_sla("LOST=5")


def figure(page: str, state: str, name: str) -> str:
    row = re.search(rf'<tr id="stage-{state}".*?</tr>', page, re.S)
    assert row, f"no row for {state}"
    cell = re.search(rf'data-figure="{name}">(.*?)</td>', row.group(0), re.S)
    assert cell, f"no {name} in the {state} row"
    return re.sub(r"<[^>]+>", "", cell.group(1)).split()[0] if cell.group(1).strip() else ""


def test_the_console_page_shows_the_figures(ops_client, known, app, monkeypatch):
    monkeypatch.setitem(app.config, "OPS_SLA_MINUTES", "RECEIVED=5,NORMALIZED=5")
    page = ops_client.get("/ops").get_data(as_text=True)
    assert figure(page, "received", "now") == "1"
    assert figure(page, "received", "hour-entered") == "3"
    assert figure(page, "received", "hour-p50") == "2.0"  # minutes
    assert figure(page, "received", "hour-p95") == "2.9"
    assert figure(page, "normalized", "day-p50") == "31.0"  # 1860 s
    assert figure(page, "posting", "hour-p50") == "10.0"
    assert figure(page, "received", "past-sla") == "1"
    assert figure(page, "normalized", "past-sla") == "1"
    assert f'href="/ops/documents/{known["B"].id}"' in page
    assert '<svg class="spark"' in page
    assert 'class="spark-bar"' in page
    assert "style=" not in page  # CSP: no inline style anywhere
    # The tests' ERP address answers nothing: the console says so while it lasts.
    erp = page.split('data-dependency="erp"')[1].split("</span>")[0]
    assert "badge-down" in erp


@pytest.mark.parametrize("path", ["/ops", "/ops/queues", "/ops/documents?q=1", "/ops/documents/1"])
def test_only_ops_see_the_console(clerk_client, path):
    assert clerk_client.get(path).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/ops")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# -- what is happening now -------------------------------------------------------------------

SEC = dt.timedelta(seconds=1)


def erp_calls_known(now: dt.datetime, document_id: int) -> None:
    """Three calls in the last 15 s (booked in 100 ms, a 503, a read timeout after 2 s), a slow
    one four minutes ago, and a 500 ten minutes ago (outside every window)."""
    rows = [
        (now - 2 * SEC, "POST", 201, None, 100.0, None),
        (now - 4 * SEC, "POST", 503, None, 50.0, "The ERP answered 503: maintenance"),
        (now - 6 * SEC, "GET", None, "ReadTimeout", 2000.0, "The ERP did not answer in time."),
        (now - 4 * MIN, "GET", 200, None, 1500.0, None),
        (now - 10 * MIN, "GET", 500, None, 10.0, "boom"),
    ]
    for at, method, status, error, ms, detail in rows:
        db.session.add(
            ErpCallRecord(
                at=at,
                document_id=document_id,
                method=method,
                endpoint="/api/ap-invoices",
                path="/api/ap-invoices",
                status=status,
                error=error,
                duration_ms=ms,
                detail=detail,
            )
        )
    db.session.flush()


def test_erp_figures_over_the_last_seconds_and_minutes(now):
    erp_calls_known(now, DocumentFactory().id)
    latest = erp_calls.recent(now, console.NOW)
    assert (latest.calls, latest.failures, latest.timeouts, latest.slow) == (3, 2, 1, 1)
    assert latest.failure_rate == pytest.approx(2 / 3)
    assert latest.p50_ms == 100.0
    assert latest.p95_ms == pytest.approx(100 + 0.9 * 1900)
    assert latest.last_failure == "The ERP answered 503: maintenance"
    assert latest.kinds == (("HTTP 503", 1), ("ReadTimeout", 1))
    minutes = erp_calls.recent(now, console.RECENT)
    assert (minutes.calls, minutes.failures, minutes.timeouts, minutes.slow) == (4, 2, 1, 2)
    quiet = erp_calls.recent(now - 30 * MIN, console.NOW)
    assert (quiet.calls, quiet.failure_rate, quiet.p95_ms, quiet.last_failure) == (
        0,
        None,
        None,
        None,
    )


def live_figure(page: str, name: str) -> str:
    cell = re.search(rf'data-figure="{name}">(.*?)</(td|strong|span)>', page, re.S)
    assert cell, f"no {name} on the page"
    return re.sub(r"<[^>]+>", "", cell.group(1)).split()[0]


@pytest.fixture
def three_workers(app):
    """Three workers, each on a connection of its own as in its own process: one beating; one
    killed (its connection closed, as the kernel closes a SIGKILLed process's sockets, though
    its last beat is recent); one stuck in a job, connected but silent for a minute."""
    connections = {name: Redis.from_url(app.config["REDIS_URL"]) for name in NAMES}
    workers = {
        name: Worker(["default"], connection=connection, name=name)
        for name, connection in connections.items()
    }
    for worker in workers.values():
        worker.register_birth()
    connections["killed"].connection_pool.disconnect()
    workers["stuck"].set_state(WorkerStatus.BUSY)
    connections["stuck"].hset(workers["stuck"].key, "last_heartbeat", utcformat(utcnow() - MIN))
    yield
    for worker in workers.values():
        worker.register_death()
    for connection in connections.values():
        connection.close()


NAMES = ("beating", "killed", "stuck")


def test_the_console_shows_the_faults_happening_now(
    ops_client, app, now, three_workers, monkeypatch
):
    """The ERP's failures, timeouts and latency now and over five minutes, its breaker open, a
    posting retry waiting, a killed worker, database connections found dead, and the work the
    sweeper and the reconciler had to send again."""
    invoice = DocumentFactory(timeline=[(S.VALIDATED, now - MIN), (S.POSTING, now - 30 * SEC)])
    erp_calls_known(now, invoice.id)
    db.session.add(
        PostingAttempt(
            document_id=invoice.id,
            attempt_no=1,
            state=AttemptState.FAILED,
            idempotency_key=f"invoice-{invoice.id}",
            worker="w",
            lease_until=now,
            payload={},
            retry_at=utcnow() + MIN,
        )
    )
    db.session.add(
        OutboxEntry(document_id=invoice.id, command="post", job_id="post-x", resends=1,
                    last_sent_at=now - 5 * SEC)
    )  # fmt: skip
    db.session.add(
        ReconcileRun(started_at=now - 2 * MIN, trigger="schedule", checked=3, requeued=[7, 8])
    )
    db.session.flush()
    monkeypatch.setitem(app.config, "BREAKER_FAILURE_THRESHOLD", 1)
    breaker.record_failure("ap-invoices", "server_error: The ERP answered 503")
    reconnects.count_lost()
    reconnects.count_lost()
    Queue(ERP_QUEUE, connection=redis_connection(app)).enqueue_in(MIN, "math.floor", 1.5)

    page = ops_client.get("/ops").get_data(as_text=True)
    assert live_figure(page, "erp-calls-now") == "3"
    assert live_figure(page, "erp-failures-now") == "2"
    assert "(67 %)" in page
    assert live_figure(page, "erp-timeouts-now") == "1"
    assert live_figure(page, "erp-p95-now") == "1810"
    assert live_figure(page, "erp-slow-now") == "1"
    assert live_figure(page, "erp-calls-recent") == "4"
    assert live_figure(page, "erp-slow-recent") == "2"
    assert "The ERP answered 503: maintenance" in page
    assert 'data-failure-now="HTTP 503">HTTP 503 \u00d7 1<' in page
    assert 'data-failure-now="ReadTimeout">ReadTimeout \u00d7 1<' in page
    assert 'data-breaker="ap-invoices" data-state="open"' in page
    assert 'data-breaker="payments" data-state="closed"' in page
    assert live_figure(page, "retries-waiting") == "1"
    assert live_figure(page, "scheduled-erp") == "1"  # the post job's retry, in RQ
    assert live_figure(page, "workers") == "1"
    assert live_figure(page, "workers-registered") == "3"
    assert live_figure(page, "workers-silent") == "2"  # killed, and stuck
    assert live_figure(page, "workers-started-now") == "3"  # all were born just now
    assert live_figure(page, "db-lost-now") == "2"
    assert live_figure(page, "resent-now") == "1"
    assert live_figure(page, "requeued-now") == "0"
    assert live_figure(page, "requeued-recent") == "2"
    assert 'id="no-workers"' not in page
    assert "style=" not in page

    queues_page = ops_client.get("/ops/queues").get_data(as_text=True)
    assert "Workers (1 alive, 2 stopped beating)" in queues_page


def test_a_quiet_pipeline_shows_nothing_wrong_now(ops_client):
    page = ops_client.get("/ops").get_data(as_text=True)
    for name in ("erp-calls-now", "erp-failures-now", "erp-timeouts-now", "db-lost-now"):
        assert live_figure(page, name) == "0"
    assert live_figure(page, "erp-p95-now") == "—"
    assert 'data-breaker="ap-invoices" data-state="closed"' in page
    assert 'id="no-workers"' in page  # no worker runs in the tests


def test_a_database_connection_killed_under_the_portal_is_counted(app):
    """pg_terminate_backend on a pooled connection: the next statement finds it dead,
    SQLAlchemy invalidates it, and the console's count (in Redis, for every process) moves."""
    before = reconnects.lost_since(60)
    with db.engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError):
            victim.execute(text("SELECT 1"))
    assert reconnects.lost_since(60) == (before or 0) + 1
