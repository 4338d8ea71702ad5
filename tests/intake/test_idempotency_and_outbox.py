"""Idempotency-Key replays and conflicts; a lost enqueue repaired by the sweeper."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.job import Job
from sqlalchemy import func, select, text

from app import jobs
from app.db import db, utcnow
from app.documents import sweeper
from app.documents.models import Document, DocumentState, OutboxEntry
from app.intake import idempotency, repeats
from app.intake.models import IdempotencyKey
from app.jobs import redis_connection
from app.oauth import denylist
from tests.factories.orgs import OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import bearer, document, run_jobs
from tests.posting.test_breaker import own_redis  # noqa: F401

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def auth():
    return bearer(OrganizationFactory(supplier=True))


def _send(client, auth, body=None, **headers):
    body = body if body is not None else local("json_two_documents.json")
    return client.post("/api/v1/invoices", data=body, headers={**auth, **JSON, **headers})


def _documents() -> int:
    return db.session.scalar(select(func.count()).select_from(Document))


def test_same_key_same_body_replays_the_first_answer_and_stores_once(client, auth):
    first = _send(client, auth, **{"Idempotency-Key": "k-1"})
    again = _send(client, auth, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _documents() == 2  # the payload holds two invoices, stored once


def test_same_key_different_body_is_422(client, auth):
    _send(client, auth, **{"Idempotency-Key": "k-2"})
    other = local("json_two_documents.json").replace(b"J-1", b"J-9")
    response = _send(client, auth, other, **{"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert _documents() == 2


def test_keys_belong_to_one_client(client, auth):
    _send(client, auth, **{"Idempotency-Key": "shared"})
    response = _send(
        client, bearer(OrganizationFactory(supplier=True)), **{"Idempotency-Key": "shared"}
    )
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert _documents() == 4


def test_no_key_means_a_new_submission_each_time_unless_the_bytes_repeat(client, auth):
    _send(client, auth)
    assert _send(client, auth).status_code == 409  # the same bytes (tests/intake/test_repeats.py)
    _send(client, auth, local("json_two_documents.json").replace(b"J-1", b"J-9"))
    assert _documents() == 4


def test_a_key_in_flight_elsewhere_answers_409(app, client, auth):
    from app.oauth.models import ApiClient

    api_client_id = db.session.scalar(select(func.max(ApiClient.id)))
    # Another connection holds the key's lock, as a first request still running would.
    with db.engine.connect() as other:
        other.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": idempotency.LOCK_NAMESPACE, "key": idempotency.lock_key(api_client_id, "busy")},
        )
        response = _send(client, auth, **{"Idempotency-Key": "busy"})
        other.rollback()
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert _documents() == 0


def test_a_twin_committed_after_the_claim_read_answers_409_and_stores_nothing(
    client, auth, monkeypatch
):
    first = _send(client, auth, **{"Idempotency-Key": "twin"})
    # As if this request's claim (and its check for repeated bytes) had read the tables just
    # before its twin committed.
    monkeypatch.setattr(idempotency, "_locked_row", lambda client_id, key: None)
    monkeypatch.setattr(repeats, "refuse_repeat", lambda sender, sha256: None)
    response = _send(client, auth, **{"Idempotency-Key": "twin"})
    assert first.status_code == 202
    assert response.status_code == 409
    assert "still being processed" in response.json["detail"]
    assert _documents() == 2  # the first submission's two invoices, nothing more


def test_malformed_key_is_400(client, auth):
    response = _send(client, auth, **{"Idempotency-Key": "x" * 256})
    assert response.status_code == 400


def test_answers_are_kept_at_least_a_day_then_purged(client, auth):
    _send(client, auth, **{"Idempotency-Key": "k-3"})
    row = db.session.scalar(select(IdempotencyKey))
    assert row.expires_at - row.created_at >= dt.timedelta(hours=24)
    assert idempotency.purge_expired(utcnow() + dt.timedelta(hours=23)) == 0
    assert idempotency.purge_expired(utcnow() + dt.timedelta(hours=25)) == 1


def test_an_expired_key_starts_afresh(client, auth):
    _send(client, auth, **{"Idempotency-Key": "k-4"})
    row = db.session.scalar(select(IdempotencyKey))
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    # No replay: the same bytes are refused as a repeat, other bytes are not "reused" (422).
    repeated = _send(client, auth, **{"Idempotency-Key": "k-4"})
    assert repeated.status_code == 409
    assert repeated.json["type"].endswith("/duplicate-payload")
    other = local("json_two_documents.json").replace(b"J-1", b"J-9")
    response = _send(client, auth, other, **{"Idempotency-Key": "k-4"})
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response.headers
    assert _documents() == 4


# -- the outbox and the sweeper --------------------------------------------------------------


class _DeadQueue:
    def enqueue(self, *args, **kwargs):
        raise RedisConnectionError("Redis went away")


def test_a_lost_enqueue_still_answers_202_and_the_sweeper_delivers(app, client, auth, monkeypatch):
    monkeypatch.setattr(jobs, "queue", lambda name="default": _DeadQueue())
    response = _send(client, auth)
    monkeypatch.undo()
    assert response.status_code == 202
    ids = [d["id"] for d in response.json["documents"]]
    assert run_jobs() == 0  # nothing reached Redis

    # Too early: the entries may just not have been picked up yet.
    assert sweeper.sweep().resent == 0
    later = utcnow() + dt.timedelta(seconds=sweeper.setting("INTAKE_SWEEP_DELAY_SECONDS") + 1)
    report = sweeper.sweep(later)
    db.session.commit()
    assert report.resent == 2
    job = Job.fetch(f"normalize-{ids[0]}", connection=redis_connection())
    assert job.meta["correlation_id"] == response.headers["X-Correlation-ID"]

    assert run_jobs() == 2
    assert {document(i).state for i in ids} == {DocumentState.NORMALIZED}
    normalize_entries = select(OutboxEntry).where(OutboxEntry.command == "normalize")
    assert all(e.completed_at for e in db.session.scalars(normalize_entries))
    # Nothing left to sweep.
    assert sweeper.sweep(later + dt.timedelta(hours=1)).resent == 0


def test_the_sweeper_leaves_live_jobs_alone(client, auth):
    _send(client, auth)
    later = utcnow() + dt.timedelta(hours=1)
    report = sweeper.sweep(later)
    assert (report.resent, report.live) == (0, 2)


def test_the_sweeper_resends_a_job_redis_lost(client, auth):
    response = _send(client, auth)
    redis_connection().flushdb()
    later = utcnow() + dt.timedelta(hours=1)
    assert sweeper.sweep(later).resent == 2
    db.session.commit()
    run_jobs()
    assert {document(d["id"]).state for d in response.json["documents"]} == {
        DocumentState.NORMALIZED
    }


def test_the_sweeper_gives_up_after_the_configured_resends(app, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_SWEEP_MAX_RESENDS", 1)
    _send(client, auth)
    redis_connection().flushdb()
    later = utcnow() + dt.timedelta(hours=1)
    assert sweeper.sweep(later).resent == 2
    redis_connection().flushdb()
    assert sweeper.sweep(later + dt.timedelta(hours=1)).resent == 0


def test_the_sweep_schedules_itself_once_per_slot(app):
    now = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    first = sweeper.schedule_next(now)
    assert first == sweeper.schedule_next(now + dt.timedelta(seconds=10))
    assert sweeper.keep_scheduled(now) is False
    job = Job.fetch(first, connection=redis_connection())
    assert job.get_status() == "scheduled"
    assert job.func_name == sweeper.SWEEP_JOB
    assert sweeper.keep_scheduled(now + dt.timedelta(minutes=5)) is True


def test_the_sweep_job_sweeps_and_schedules_the_next(app, client, auth, monkeypatch):
    from app.documents.tasks import sweep

    monkeypatch.setitem(app.config, "INTAKE_SWEEP_DELAY_SECONDS", 0)
    monkeypatch.setattr(jobs, "queue", lambda name="default": _DeadQueue())
    _send(client, auth)
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "INTAKE_SWEEP_DELAY_SECONDS", 0)
    assert sweep()["resent"] == 2
    scheduled = [k.decode() for k in redis_connection().keys("rq:job:outbox-sweep-*")]
    assert len(scheduled) == 1


def test_the_sweep_command_sweeps_and_arms_the_schedule(app, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_SWEEP_DELAY_SECONDS", 0)
    monkeypatch.setattr(jobs, "queue", lambda name="default": _DeadQueue())
    _send(client, auth)
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "INTAKE_SWEEP_DELAY_SECONDS", 0)
    result = app.test_cli_runner().invoke(args=["documents", "sweep"])
    assert result.exit_code == 0, result.output
    assert "resent 2" in result.output
    assert "next sweep scheduled as outbox-sweep-" in result.output


def test_a_worker_arms_the_sweep_again_after_redis_lost_it(app):
    from rq import Queue

    connection = redis_connection()
    sweeper.schedule_next()
    connection.flushdb()
    worker = sweeper.ArmingWorker([Queue("low", connection=connection)], connection=connection)
    # Woken at least once per sweep interval, even with no job to run.
    assert worker.maintenance_interval == app.config["INTAKE_SWEEP_INTERVAL_SECONDS"]
    assert worker.dequeue_timeout <= app.config["INTAKE_SWEEP_INTERVAL_SECONDS"]
    worker.run_maintenance_tasks()
    assert len(connection.keys("rq:job:outbox-sweep-*")) == 1


def test_a_job_started_by_a_worker_that_is_gone_is_sent_again(client, auth):
    from rq import Worker
    from rq.job import JobStatus
    from rq.utils import utcformat

    _send(client, auth)
    connection = redis_connection()
    entries = db.session.scalars(select(OutboxEntry)).all()
    for entry in entries:
        job = Job.fetch(entry.job_id, connection=connection)
        job.worker_name = "killed-worker"
        job.save()
        job.set_status(JobStatus.STARTED)
    later = utcnow() + dt.timedelta(hours=1)
    key = Worker.redis_worker_namespace_prefix + "killed-worker"
    connection.hset(key, "last_heartbeat", utcformat(utcnow()))
    assert sweeper.sweep(later).live == len(entries)  # its worker beats: the job runs

    stale = utcnow() - dt.timedelta(seconds=sweeper.stale_heartbeat_seconds() + 1)
    connection.hset(key, "last_heartbeat", utcformat(stale))  # still registered, silent
    assert sweeper.sweep(later).resent == len(entries)
    db.session.commit()
    run_jobs()
    assert {document(e.document_id).state for e in entries} == {DocumentState.NORMALIZED}


def test_a_job_taken_off_its_queue_by_a_worker_that_died_is_sent_again(client, auth):
    """RQ pops a job before it marks it started: a worker killed in between leaves the job
    "queued" on no queue, which RQ never runs nor cleans up. The sweeper sees through it."""
    from rq import Queue

    _send(client, auth)
    connection = redis_connection()
    entries = db.session.scalars(select(OutboxEntry)).all()
    later = utcnow() + dt.timedelta(hours=1)
    assert sweeper.sweep(later).live == len(entries)  # on their queue: RQ will run them

    for entry in entries:
        job = Job.fetch(entry.job_id, connection=connection)
        connection.lrem(Queue(job.origin, connection=connection).key, 0, job.id)
        assert job.get_status(refresh=True) == "queued"
    assert sweeper.sweep(later).resent == len(entries)
    db.session.commit()
    run_jobs()
    assert {document(e.document_id).state for e in entries} == {DocumentState.NORMALIZED}


def test_a_retry_no_scheduler_moved_to_its_queue_is_sent_again(client, auth):
    """A job scheduled for later (an RQ retry) is live until a while after its time; past
    that, no scheduler is running and the sweeper sends the work itself."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    _send(client, auth)
    connection = redis_connection()
    entries = db.session.scalars(select(OutboxEntry)).all()
    later = utcnow() + dt.timedelta(hours=1)
    for entry in entries:
        job = Job.fetch(entry.job_id, connection=connection)
        connection.lrem(Queue(job.origin, connection=connection).key, 0, job.id)
        ScheduledJobRegistry(job.origin, connection=connection).schedule(
            job, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        )
        job.set_status("scheduled")
    assert sweeper.sweep(later).live == len(entries)  # due in five seconds

    overdue = time.time() - sweeper.stale_heartbeat_seconds() - 120
    for entry in entries:
        job = Job.fetch(entry.job_id, connection=connection)
        connection.zadd(
            ScheduledJobRegistry(job.origin, connection=connection).key, {job.id: overdue}
        )
    assert sweeper.sweep(later).resent == len(entries)
    db.session.commit()
    run_jobs()
    assert {document(e.document_id).state for e in entries} == {DocumentState.NORMALIZED}


def test_the_lock_of_a_scheduler_that_stopped_is_released_for_another():
    """RQ's scheduler refreshes its queue lock every second; one silent for ten seconds died
    (with its worker, or when Redis went away) and would hold every retry for a minute."""
    connection = redis_connection()
    lock = "rq:scheduler-lock:{}"
    connection.set(lock.format("default"), "alive", ex=sweeper.SCHEDULER_LOCK_TTL - 1)
    connection.set(lock.format("low"), "stopped", ex=sweeper.SCHEDULER_LOCK_TTL - 25)

    freed = sweeper.free_orphaned_scheduler_locks(connection, ["high", "default", "low"])

    assert freed == ["low"]
    assert connection.get(lock.format("low")) is None
    assert connection.get(lock.format("default")) == b"alive"


@pytest.mark.slow
def test_with_redis_stopped_intake_still_accepts_documents(
    app,
    client,
    auth,
    own_redis,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    """The token check reads the revoked-token list from the database, throttling counts in
    the process, and the work owed waits in the outbox for the sweeper."""
    own_redis.terminate()
    own_redis.wait(timeout=5)
    monkeypatch.setitem(app.extensions, denylist.RESTING_UNTIL, 0.0)  # forgotten after the test
    response = _send(client, auth, **{"Idempotency-Key": "k-redis-down"})
    assert response.status_code == 202, response.get_data(as_text=True)
    assert _documents() == 2
    again = _send(client, auth, **{"Idempotency-Key": "k-redis-down"})
    assert again.headers["Idempotent-Replayed"] == "true"
    open_entries = select(func.count()).where(OutboxEntry.completed_at.is_(None))
    assert db.session.scalar(open_entries) == 2
