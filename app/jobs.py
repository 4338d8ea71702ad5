"""Background work: Redis connection, queues, after-commit enqueue and the job wrapper."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from flask import Flask, current_app, g, has_app_context
from redis import Redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import db, unit_of_work_retried

QUEUE_NAMES = ("high", "default", "low")
# ERP-bound work (posting) has a queue of its own so a slow ERP never holds up intake; workers
# take it after the stage queues (WORKER_QUEUES).
ERP_QUEUE = "erp"
WORKER_QUEUES = ("high", "default", ERP_QUEUE, "low")
FAILURE_TTL_SECONDS = 7 * 24 * 3600
log = structlog.get_logger(__name__)


def redis_connection(app: Flask | None = None) -> Redis:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["redis"]


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection(), default_timeout=300)


def _pending(session: Session) -> list[tuple[str, Callable, tuple, dict]]:
    return session.info.setdefault("pending_jobs", [])


def enqueue_after_commit(
    func: Any,  # a callable or its dotted path, as RQ takes either
    *args: Any,
    queue_name: str = "default",
    job_id: str | None = None,
    retry: Retry,
    chain: bool = False,
    **kwargs: Any,
) -> None:
    """Enqueue once the current transaction commits; nothing is sent if it rolls back.

    `chain=True` (pipeline stages) lets a job that makes it due run it next in the same worker
    instead of a round trip through Redis: see `_run_chained`."""
    options = _options(job_id, retry, g.get("correlation_id"))
    if chain:
        options["_chain"] = True
    _pending(db.session()).append((queue_name, func, args, {**kwargs, "_rq": options}))


def enqueue_now(
    func: Any,  # a callable or its dotted path, as RQ takes either
    *args: Any,
    queue_name: str = "default",
    job_id: str | None = None,
    retry: Retry,
    correlation_id: str | None = None,
) -> None:
    """Enqueue at once with the same options (for resends; raises if Redis is down)."""
    queue(queue_name).enqueue(func, *args, **_options(job_id, retry, correlation_id))


def _options(job_id: str | None, retry: Retry, correlation_id: str | None) -> dict:
    """What every job is sent with: an explicit id, its caller's retries (pipeline stages take
    theirs from `app.pipeline.Step`), failed jobs kept a week for ops."""
    return {
        "job_id": job_id,
        "retry": retry,
        "failure_ttl": FAILURE_TTL_SECONDS,
        "meta": {"correlation_id": correlation_id},
    }


def _send_pending(session: Session) -> None:
    """Send the jobs of a committed transaction in one Redis round trip (one MULTI/EXEC),
    whether it owes one job or a CSV's five hundred."""
    jobs, session.info["pending_jobs"] = _pending(session), []
    chained = _chained.get()
    if chained is not None:
        jobs = [job for job in jobs if not _held_for_chain(job, chained)]
    if not jobs:
        return
    try:
        with redis_connection().pipeline() as pipe:
            for queue_name, func, args, kwargs in jobs:
                options = kwargs.pop("_rq")
                options.pop("_chain", None)
                queue(queue_name).enqueue(func, *args, **kwargs, **options, pipeline=pipe)
            pipe.execute()
    except Exception:
        # The outbox sweeper re-sends work whose enqueue was lost; never fail the request.
        names = sorted({getattr(func, "__name__", str(func)) for _, func, _, _ in jobs})
        log.exception("enqueue failed after commit", jobs=len(jobs), names=names)


def _drop_pending(session: Session) -> None:
    session.info.pop("pending_jobs", None)


def job(func: Callable) -> Callable:
    """Run an RQ entry point inside an app context and one unit of work."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # A fresh app context per job gives it its own `g` and database session, also when a
        # test or the in-process worker calls it from inside another context.
        app = current_app._get_current_object() if has_app_context() else _worker_app()  # type: ignore[attr-defined]
        with app.app_context():
            return _run_in_unit_of_work(func, args, kwargs)

    return wrapper


def _run_in_unit_of_work(func: Callable, args: tuple, kwargs: dict) -> Any:
    from rq import get_current_job

    current = get_current_job()
    correlation_id = current.meta.get("correlation_id") if current else None
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    g.correlation_id = correlation_id
    # The outermost job run by a worker collects the stages it makes due (see _run_chained).
    starts_chain = (
        current is not None
        and _chained.get() is None
        and current_app.config.get("PIPELINE_CHAIN_STAGES", True)
    )
    token = _chained.set(Chain(current.origin, {current.id})) if starts_chain and current else None
    chain = _chained.get()
    # A chained stage logs under its own job id, though it runs inside the first job.
    job_id = chain.running if chain and chain.running else (current.id if current else None)
    log.info("job.started", job_id=job_id, func=func.__qualname__)
    try:
        try:
            # A connection lost before the stage committed: run it again at once, rather
            # than wait for RQ's retry interval (the stage had done nothing that stayed).
            result = unit_of_work_retried(lambda: func(*args, **kwargs))
        except Exception as exc:
            log.warning(
                "job.failed", job_id=job_id, func=func.__qualname__, error=type(exc).__name__
            )
            raise
        finally:
            db.session.remove()
        log.info("job.finished", job_id=job_id, func=func.__qualname__)
        if token is not None:
            _run_chained(_chained.get())
        return result
    finally:
        if token is not None:
            _chained.reset(token)


# Consecutive pipeline stages of one document run in one job. When a stage job commits and
# that commit makes the next stage due, the next stage's job runs at once in the same worker
# (in its own unit of work) instead of going through Redis and waiting for a worker to pick it
# up. Nothing is lost by it: the next stage's outbox entry was committed with the change that
# made it due, so if this worker dies before the chained stage finishes, the sweeper sends the
# job again; a chained stage that fails is enqueued as an ordinary job with its own retries.
# PIPELINE_CHAIN_STAGES=0 sends every stage through Redis.
CHAIN_LIMIT = 8  # stages run in one job at most; the rest go through Redis


@dataclass
class Chain:
    queue: str  # only work of the first job's queue is chained: another queue has its workers
    seen: set[str]
    due: list[tuple[str, Callable, tuple, dict]] = field(default_factory=list)
    running: str | None = None  # the id of the chained job running now


_chained: contextvars.ContextVar[Chain | None] = contextvars.ContextVar("chained", default=None)


def _held_for_chain(job: tuple[str, Callable, tuple, dict], chain: Chain) -> bool:
    """Keep a chainable job for this worker to run next, unless it belongs to another queue
    (posting has its own, so a slow ERP holds up only ERP work), already ran in this chain (a
    stage that defers itself goes through Redis) or the chain is long enough."""
    queue_name, options = job[0], job[3]["_rq"]
    job_id = options.get("job_id")
    if (
        not options.get("_chain")
        or queue_name != chain.queue
        or job_id in chain.seen
        or len(chain.seen) >= CHAIN_LIMIT
    ):
        return False
    chain.seen.add(job_id)
    chain.due.append(job)
    return True


def _run_chained(chain: Chain | None) -> None:
    while chain is not None and chain.due:
        queue_name, func, args, kwargs = chain.due.pop(0)
        options = kwargs.pop("_rq")
        chain.running = options["job_id"]
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception(
                "chained stage failed; it goes to the queue for its retries", job=chain.running
            )
            _retry_later(queue_name, func, args, kwargs, options)
        finally:
            chain.running = None


def _retry_later(queue_name: str, func: Callable, args: tuple, kwargs: dict, options: dict) -> None:
    """A chained stage that failed counts as the job's first failed attempt: it goes to the
    queue after the step's first retry interval, with the retries that are left."""
    options.pop("_chain", None)
    retry: Retry | None = options.pop("retry", None)
    intervals = list(retry.intervals) if retry else []
    if retry is not None and retry.max > 1:
        options["retry"] = Retry(max=retry.max - 1, interval=intervals[1:] or intervals[:1])
    delay = dt.timedelta(seconds=intervals[0] if intervals else 0)
    try:
        queue(queue_name).enqueue_in(delay, func, *args, **kwargs, **options)
    except Exception:
        # Redis is gone too: the stage's open outbox entry brings it back with the sweeper.
        log.exception("could not enqueue a chained stage", job=options["job_id"])


_app_lock = threading.Lock()
_app: Flask | None = None
# create_app hands itself in through init_app: importing it here would make this module, which
# every package uses, depend on every package.
_app_factory: Callable[[], Flask] | None = None


def _worker_app() -> Flask:
    """One app per worker process, made on the first job."""
    global _app  # noqa: PLW0603 - a per-process cache of the app
    with _app_lock:
        if _app is None:
            if _app_factory is None:
                raise RuntimeError("no app factory: create_app passes itself to jobs.init_app")
            _app = _app_factory()
        return _app


def _make_redis(app: Flask) -> Redis:
    if app.config["QUEUE_BACKEND"] == "fake":
        import fakeredis

        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)


_apps_in_process: weakref.WeakSet[Flask] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked work horse, drop the parent's pooled database connections without closing
    them: sharing one socket between two processes corrupts both sessions."""
    for app in list(_apps_in_process):
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def init_app(app: Flask, factory: Callable[[], Flask] | None = None) -> None:
    """`factory` builds the app a worker process runs jobs in when none is current."""
    global _app_factory  # noqa: PLW0603 - the worker process's way to make its app
    if factory is not None:
        _app_factory = factory
    _apps_in_process.add(app)
    app.extensions["redis"] = _make_redis(app)
    if not event.contains(Session, "after_commit", _send_pending):
        event.listen(Session, "after_commit", _send_pending)
        event.listen(Session, "after_soft_rollback", lambda s, prev: _drop_pending(s))
    if app.config["QUEUE_BACKEND"] == "fake":
        global _app  # noqa: PLW0603 - the in-process worker runs jobs in this very app
        _app = app


def start_inprocess_worker(app: Flask) -> threading.Thread:
    """Without a Redis server, run jobs in a thread of the web process on fakeredis."""
    from rq import SimpleWorker

    def work() -> None:
        with app.app_context():
            queues = [Queue(n, connection=redis_connection(app)) for n in WORKER_QUEUES]
            SimpleWorker(queues, connection=redis_connection(app)).work(with_scheduler=True)

    thread = threading.Thread(target=work, name="inprocess-rq-worker", daemon=True)
    thread.start()
    return thread
