"""What RQ holds right now: jobs per queue and registry, the workers registered and which of
them still beat, the failed jobs, and the jobs of one document. Read-only; with Redis down it
says so instead of failing."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from redis import Redis
from redis.exceptions import RedisError, ResponseError
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
from app.documents.sweeper import WORKER_TTL_FLOOR, heartbeat_seconds, setting
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
    # Beat within the last two of its heartbeats, and (when Redis can tell) still connected:
    # a worker killed with SIGKILL stays registered for a while after its heartbeat stops
    # (app.documents.sweeper.worker_is_alive), but its connection closes at once.
    alive: bool = True
    born: dt.datetime | None = None
    connected: bool | None = None  # None: unknown (Redis restarted since, or no CLIENT LIST)


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

    def started_since(self, moment: dt.datetime) -> tuple[WorkerRow, ...]:
        """Workers that started after `moment`: new ones, or restarted after a crash."""
        return tuple(w for w in self.workers if w.born is not None and w.born >= moment)


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
    connected = _connected_names(connection)
    workers = tuple(_worker(w, connected) for w in Worker.all(connection=connection))
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


def _worker(worker: BaseWorker, connected: Connected | None) -> WorkerRow:
    beat, state = _aware(worker.last_heartbeat), _name(worker.get_state())
    stale = dt.timedelta(seconds=2 * beats_every(state) + 1)
    born = _aware(worker.birth_date)
    linked = connected.has(worker.name, born) if connected is not None else None
    return WorkerRow(
        worker.name,
        state,
        ", ".join(worker.queue_names()),
        worker.get_current_job_id(),
        beat,
        beat is not None and utcnow() - beat <= stale and linked is not False,
        born,
        linked,
    )


@dataclass(frozen=True)
class Connected:
    """The names of Redis's client connections (an RQ worker names its connection after
    itself) and when Redis started: a worker born since then with no connection of its name
    is gone. One born before a Redis restart reconnected without its name: unknown."""

    names: frozenset[str]
    redis_started: dt.datetime

    def has(self, name: str, born: dt.datetime | None) -> bool | None:
        if born is None or born < self.redis_started:
            return None
        return name in self.names


def _connected_names(connection: Redis) -> Connected | None:
    try:
        clients = cast(list[dict], connection.client_list())
        names = frozenset(str(c.get("name") or "") for c in clients)
        uptime = int(cast(dict, connection.info("server"))["uptime_in_seconds"])
    except ResponseError:  # CLIENT LIST refused (a managed Redis, fakeredis): beats alone tell
        return None
    return Connected(names, utcnow() - dt.timedelta(seconds=uptime + 1))


def beats_every(state: str) -> int:
    """Seconds between a worker's heartbeats: during a job, app.workers beats every
    WORKER_HEARTBEAT_SECONDS; waiting for work, RQ beats once per wait on the queues, whose
    length follows the worker_ttl that ArmsTheSweep sets (RQ's dequeue_timeout)."""
    if state == "busy":
        return heartbeat_seconds()
    interval = setting("INTAKE_SWEEP_INTERVAL_SECONDS")
    return max(WORKER_TTL_FLOOR, interval + 15) - 15


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
