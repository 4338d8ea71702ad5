"""What RQ holds right now: jobs per queue and registry, the workers registered and which of
them still beat, the failed jobs, and the jobs of one document. Read-only; with Redis down it
says so instead of failing."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.worker import BaseWorker

from app.db import utcnow
from app.documents.sweeper import stale_heartbeat_seconds
from app.jobs import WORKER_QUEUES, redis_connection

FAILED_SHOWN = 20


@dataclass(frozen=True)
class QueueDepth:
    name: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


@dataclass(frozen=True)
class WorkerRow:
    name: str
    state: str
    queues: str
    current_job: str | None
    last_heartbeat: dt.datetime | None
    # Beat within the last three heartbeats: a worker killed with SIGKILL stays registered
    # for a while after its heartbeat stops (see app.documents.sweeper.worker_is_alive).
    alive: bool = True


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    ended_at: dt.datetime | None
    error: str  # the exception's last line


@dataclass(frozen=True)
class QueueSnapshot:
    available: bool
    error: str = ""
    queues: tuple[QueueDepth, ...] = ()
    workers: tuple[WorkerRow, ...] = ()
    failed: tuple[FailedJob, ...] = ()

    @property
    def alive(self) -> tuple[WorkerRow, ...]:
        return tuple(worker for worker in self.workers if worker.alive)

    @property
    def silent(self) -> tuple[WorkerRow, ...]:
        """Registered, but stopped beating: killed, or stuck."""
        return tuple(worker for worker in self.workers if not worker.alive)


@dataclass(frozen=True)
class JobStatus:
    id: str
    status: str  # RQ's status, or "not in Redis" (finished and expired, or never sent)
    enqueued_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    error: str = ""


@functools.cache
def snapshot() -> QueueSnapshot:
    """Read every queue once (cached until `snapshot.cache_clear()`: a page or a scrape
    clears it first, so its figures agree with each other)."""
    try:
        return _read()
    except RedisError as exc:
        return QueueSnapshot(False, f"Redis unavailable ({type(exc).__name__})")


def fresh_snapshot() -> QueueSnapshot:
    snapshot.cache_clear()
    return snapshot()


def _read() -> QueueSnapshot:
    connection = redis_connection()
    queues = [Queue(name, connection=connection) for name in WORKER_QUEUES]
    depths = tuple(_depth(q) for q in queues)
    workers = tuple(_worker(w) for w in Worker.all(connection=connection))
    failed = tuple(_failed(queues))
    return QueueSnapshot(True, "", depths, workers, failed)


def _depth(q: Queue) -> QueueDepth:
    return QueueDepth(
        q.name,
        q.count,
        StartedJobRegistry(queue=q).count,
        ScheduledJobRegistry(queue=q).count,
        DeferredJobRegistry(queue=q).count,
        FailedJobRegistry(queue=q).count,
    )


def _worker(worker: BaseWorker) -> WorkerRow:
    beat = _aware(worker.last_heartbeat)
    stale = dt.timedelta(seconds=stale_heartbeat_seconds())
    return WorkerRow(
        worker.name,
        _name(worker.get_state()),
        ", ".join(worker.queue_names()),
        worker.get_current_job_id(),
        beat,
        beat is not None and utcnow() - beat <= stale,
    )


def _failed(queues: Iterable[Queue]) -> list[FailedJob]:
    found: list[FailedJob] = []
    for q in queues:
        registry = FailedJobRegistry(queue=q)
        ids = registry.get_job_ids(0, FAILED_SHOWN - 1)
        for job in Job.fetch_many(ids, connection=q.connection):
            if job is not None:
                found.append(_failed_job(q.name, job))
    newest_first = sorted(found, key=_ended, reverse=True)
    return newest_first[:FAILED_SHOWN]


def _ended(job: FailedJob) -> dt.datetime:
    return job.ended_at or dt.datetime.min.replace(tzinfo=dt.UTC)


def _failed_job(queue_name: str, job: Job) -> FailedJob:
    return FailedJob(job.id, queue_name, job.func_name or "", _aware(job.ended_at), _last_line(job))


def _last_line(job: Job) -> str:
    lines = (job.exc_info or "").strip().splitlines()
    return lines[-1][:300] if lines else ""


def _name(value: object) -> str:
    return str(getattr(value, "value", value))


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


def job_statuses(job_ids: Iterable[str]) -> tuple[list[JobStatus], str]:
    """The RQ status of each id, and an error message when Redis cannot be read."""
    try:
        return [_status(job_id) for job_id in job_ids], ""
    except RedisError as exc:
        return [], f"Redis unavailable ({type(exc).__name__})"


def _status(job_id: str) -> JobStatus:
    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except NoSuchJobError:
        return JobStatus(job_id, "not in Redis")
    return JobStatus(
        job_id,
        _name(job.get_status()),
        _aware(job.enqueued_at),
        _aware(job.ended_at),
        _last_line(job) if job.is_failed else "",
    )
