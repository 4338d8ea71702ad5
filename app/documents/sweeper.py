"""The sweeper: finds outbox entries left open with no live job and sends them again, so a
document accepted while Redis was down, or whose job was lost, still moves on.

It runs as a periodic RQ job. Each run schedules the next one through RQ's scheduler (the
`worker` command runs it); the run time is rounded to the interval and named after it, so any
number of workers or web processes asking for "the next sweep" schedule the same single job.
Stage jobs re-arm it as they finish (`arm_now_and_then`), so a Redis that lost its schedule
heals with the next document; `flask --app wsgi documents sweep` runs a sweep by hand and arms
the schedule too. Each sweep also runs the housekeeping other packages list in
`app.pipeline.HOUSEKEEPING` (expired idempotency keys, say), by dotted path.
Concurrent sweeps are safe: they lock entries with SKIP LOCKED and never take the same one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, cast

import structlog
from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import release_lock
from rq.utils import import_attribute, utcparse
from rq.worker import BaseWorker
from sqlalchemy import or_, select

from app.db import db, utcnow
from app.documents import outbox
from app.documents.models import Document, OutboxEntry
from app.jobs import queue, redis_connection
from app.pipeline import HOUSEKEEPING, STEPS_BY_COMMAND, SWEEP_JOB

log = structlog.get_logger(__name__)

SWEEP_QUEUE = "low"
SWEEP_JOB_PREFIX = "outbox-sweep-"
# RQ refreshes a worker's registration every worker_ttl - 15 seconds while it waits for work.
WORKER_TTL_FLOOR = 20
LIVE = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED})
DEFAULTS = {
    # An entry younger than this may simply not have been picked up yet.
    "INTAKE_SWEEP_DELAY_SECONDS": 60,
    "INTAKE_SWEEP_INTERVAL_SECONDS": 60,
    # After this many resends the entry is left for ops (its job keeps failing).
    "INTAKE_SWEEP_MAX_RESENDS": 5,
    "INTAKE_SWEEP_BATCH": 500,
    "WORKER_HEARTBEAT_SECONDS": 5,
}
# A job taken off its queue is marked started within milliseconds by a live worker.
LIMBO_SECONDS = 0.5
# RQ's scheduler refreshes its lock every second (its interval) to this many seconds.
SCHEDULER_LOCK_TTL = 61
SCHEDULER_SILENT_SECONDS = 10


def setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


@dataclass(frozen=True)
class SweepReport:
    resent: int
    live: int


def sweep(now: dt.datetime | None = None) -> SweepReport:
    """Resend every overdue open entry whose job is not live."""
    now = now or utcnow()
    connection = redis_connection()
    resent = live = 0
    for entry, correlation_id in _overdue(now):
        if job_is_live(connection, entry.job_id):
            live += 1
            continue
        _resend(connection, entry, correlation_id, now)
        resent += 1
    return SweepReport(resent, live)


def housekeeping(now: dt.datetime | None = None) -> dict[str, int]:
    """Run every task of `app.pipeline.HOUSEKEEPING`; each answers how many rows it handled."""
    now = now or utcnow()
    return {name: import_attribute(path)(now) for name, path in HOUSEKEEPING.items()}


def _overdue(now: dt.datetime) -> list[tuple[OutboxEntry, str | None]]:
    cutoff = now - dt.timedelta(seconds=setting("INTAKE_SWEEP_DELAY_SECONDS"))
    rows = db.session.execute(
        select(OutboxEntry, Document.correlation_id)
        .join(Document, Document.id == OutboxEntry.document_id)
        .where(
            OutboxEntry.completed_at.is_(None),
            OutboxEntry.created_at <= cutoff,
            or_(OutboxEntry.last_sent_at.is_(None), OutboxEntry.last_sent_at <= cutoff),
            OutboxEntry.resends < setting("INTAKE_SWEEP_MAX_RESENDS"),
        )
        .order_by(OutboxEntry.id)
        .limit(setting("INTAKE_SWEEP_BATCH"))
        .with_for_update(of=OutboxEntry, skip_locked=True)
    )
    return [(entry, correlation_id) for entry, correlation_id in rows]


def job_is_live(connection: Redis, job_id: str) -> bool:
    """Whether RQ will still run `job_id` by itself. Its status alone does not say: a worker
    killed between taking a job off its queue and starting it leaves the job "queued" in no
    queue, for ever (RQ's registries lose jobs that way); a worker killed during a job leaves
    it "started" with nobody running it. A worker takes a job off the queue a few milliseconds
    before it marks it started, so a queued job found on no queue is looked at once more after
    LIMBO_SECONDS before it counts as lost."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if _runs_or_will(connection, job, job.get_status(refresh=False)):
        return True
    if job.get_status(refresh=False) != JobStatus.QUEUED:
        return False
    time.sleep(LIMBO_SECONDS)
    return _runs_or_will(connection, job, job.get_status(refresh=True))


def _runs_or_will(connection: Redis, job: Job, status: JobStatus | None) -> bool:
    if status == JobStatus.STARTED:
        return worker_is_alive(connection, job.worker_name)
    if status == JobStatus.QUEUED:
        return connection.lpos(Queue(job.origin, connection=connection).key, job.id) is not None
    if status == JobStatus.SCHEDULED:
        return _due_soon(connection, job)
    return status in LIVE


def _due_soon(connection: Redis, job: Job) -> bool:
    """A scheduled job (a retry, a sweep) is live until a while after its time: RQ's scheduler
    moves it to its queue within a second, unless no scheduler is running (see
    `free_orphaned_scheduler_locks`); then it is lost until sent again."""
    registry = ScheduledJobRegistry(job.origin, connection=connection)
    score = cast(float | None, connection.zscore(registry.key, job.id))
    if score is None:
        return False
    return time.time() - score <= stale_heartbeat_seconds() + setting(
        "INTAKE_SWEEP_INTERVAL_SECONDS"
    )


def free_orphaned_scheduler_locks(connection: Redis, queue_names: list[str]) -> list[str]:
    """RQ runs one scheduler per queue, the holder of the queue's lock, which it refreshes every
    second to SCHEDULER_LOCK_TTL. A scheduler that died with its worker (kill -9, Redis gone
    under it) keeps the lock for up to a minute, and with it every retry and sweep waits. A lock
    not refreshed for SCHEDULER_SILENT_SECONDS is released (only if its owner is unchanged), so
    the next worker without a scheduler takes it over at its next maintenance."""
    freed = []
    for name in queue_names:
        key = RQScheduler.get_locking_key(name)
        pipe = connection.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        owner, ttl = pipe.execute()
        if owner is not None and 0 <= ttl < SCHEDULER_LOCK_TTL - SCHEDULER_SILENT_SECONDS:
            release_lock(connection, key, owner.decode())
            freed.append(name)
    if freed:
        log.warning("released the locks of a scheduler that stopped", queues=freed)
    return freed


def worker_is_alive(connection: Redis, name: str | None) -> bool:
    """A started job runs only while its worker is alive. A worker killed with SIGKILL, or
    one that died when Redis went away under it, leaves its job "started" in RQ until RQ's own
    clean-up, minutes later, and its registration for up to 90 seconds; its heartbeat stops at
    once. Our workers beat every WORKER_HEARTBEAT_SECONDS, also while a job runs
    (`app.workers`), so a job whose worker has missed a few beats is sent again (the stage locks
    the document, so even a run that was still going changes nothing twice)."""
    if not name:
        return False
    beat = cast(
        bytes | None, connection.hget(Worker.redis_worker_namespace_prefix + name, "last_heartbeat")
    )
    if beat is None:
        return False
    age = utcnow() - utcparse(beat.decode()).replace(tzinfo=dt.UTC)
    return age.total_seconds() <= stale_heartbeat_seconds()


def heartbeat_seconds() -> int:
    """How often a worker says it is alive, while it waits and while it runs a job."""
    return max(
        1, min(setting("WORKER_HEARTBEAT_SECONDS"), setting("INTAKE_SWEEP_INTERVAL_SECONDS"))
    )


def stale_heartbeat_seconds() -> int:
    """Three missed beats: a worker that went quiet that long is gone."""
    return 3 * heartbeat_seconds()


def _resend(
    connection: Redis, entry: OutboxEntry, correlation_id: str | None, now: dt.datetime
) -> None:
    # A failed or finished job of the same id would shadow the new one in RQ's registries.
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(entry.job_id, connection=connection).delete()
    outbox.send_now(entry, STEPS_BY_COMMAND[entry.command], correlation_id)
    entry.resends += 1
    entry.last_sent_at = now
    log.warning("outbox entry resent", job_id=entry.job_id, resends=entry.resends)


# -- the schedule ----------------------------------------------------------------------------


def next_run(now: dt.datetime, interval: int) -> dt.datetime:
    """The next multiple of `interval` seconds after `now` (so every process agrees on it)."""
    slot = int(now.timestamp()) // interval + 1
    return dt.datetime.fromtimestamp(slot * interval, dt.UTC)


def sweep_job_id(run_at: dt.datetime) -> str:
    return f"{SWEEP_JOB_PREFIX}{int(run_at.timestamp())}"


def schedule_next(now: dt.datetime | None = None) -> str:
    """Schedule the next sweep (idempotent: the same slot always gets the same job id)."""
    run_at = next_run(now or utcnow(), setting("INTAKE_SWEEP_INTERVAL_SECONDS"))
    job_id = sweep_job_id(run_at)
    queue(SWEEP_QUEUE).enqueue_at(run_at, SWEEP_JOB, job_id=job_id, failure_ttl=24 * 3600)
    return job_id


def keep_scheduled(now: dt.datetime | None = None) -> bool:
    """Arm the schedule unless the next sweep is already there; True when it armed it."""
    run_at = next_run(now or utcnow(), setting("INTAKE_SWEEP_INTERVAL_SECONDS"))
    try:
        status = Job.fetch(sweep_job_id(run_at), connection=redis_connection()).get_status()
    except NoSuchJobError:
        status = None
    if status in LIVE:
        return False
    schedule_next(now)
    return True


class ArmsTheSweep(BaseWorker):
    """Mixin for any RQ worker class (forking or not) that keeps the sweep scheduled by
    itself, so a Redis that lost its data (FLUSHDB, a restart without persistence) gets its
    sweep back within an interval even when no job runs to re-arm it: the sweep is what finds
    the work that Redis lost. The worker wakes at least once per interval (RQ blocks on the
    queues for worker_ttl - 15 seconds at a time) and looks at the schedule with RQ's own
    maintenance tasks, which then also find jobs abandoned by a killed worker sooner."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        interval = setting("INTAKE_SWEEP_INTERVAL_SECONDS")
        kwargs.setdefault("worker_ttl", max(WORKER_TTL_FLOOR, interval + 15))
        kwargs.setdefault("maintenance_interval", interval)
        # The heartbeat during a job (a forking worker's; app.workers beats for SimpleWorker),
        # which tells the sweeper the job is still running.
        kwargs.setdefault("job_monitoring_interval", heartbeat_seconds())
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        try:
            free_orphaned_scheduler_locks(self.connection, self.queue_names())
        except RedisError:
            log.warning("could not check the scheduler locks", exc_info=True)
        super().run_maintenance_tasks()  # takes a freed lock when this worker has no scheduler
        try:
            keep_scheduled()
        except RedisError:
            log.warning("could not check the sweep schedule", exc_info=True)


class ArmingWorker(ArmsTheSweep, Worker):
    """RQ's forking worker, arming the sweep."""


_last_armed = {"at": -float("inf")}


def arm_now_and_then() -> None:
    """Look at the sweep schedule at most once per interval in this process, so most jobs pay
    nothing for it. Best effort: a document must not fail its stage because the schedule could
    not be checked; a later job, or `flask documents sweep`, arms it."""
    if time.monotonic() - _last_armed["at"] < setting("INTAKE_SWEEP_INTERVAL_SECONDS"):
        return
    _last_armed["at"] = time.monotonic()
    try:
        keep_scheduled()
    except RedisError:
        log.warning("could not check the sweep schedule", exc_info=True)
