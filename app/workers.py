"""The worker processes behind `flask --app wsgi worker`.

A supervisor (RQ's `WorkerPool`) keeps WORKER_PROCESSES workers alive and starts a new one
within a second when one dies, whatever killed it. Each worker runs its jobs in its own process
(RQ's `SimpleWorker`): no fork per job, which made a job cost a fork and a fresh set of database
connections. What a fork bought, this keeps another way:
- a job that runs too long is still stopped: RQ's timeout is an alarm signal in the worker's
  own main thread, which is where `SimpleWorker` runs the job;
- a job that crashes its process (a segfault, kill -9, the OOM killer) takes down one worker,
  which the supervisor replaces; the job's outbox entry is still open, so the sweeper sends it
  again (`app/documents/sweeper.py`) once the worker has missed three heartbeats: a worker
  beats every WORKER_HEARTBEAT_SECONDS, also while a job runs (a thread does it, as RQ's
  forking worker does it from the parent process);
- each keeps the outbox sweep scheduled (`documents.sweeper.ArmsTheSweep`), also after Redis
  lost its data;
- memory a job leaves behind is bounded: after WORKER_MAX_JOBS jobs a worker leaves and the
  supervisor starts a fresh one (0 means never).
WORKER_CLASS=fork brings back RQ's forking `Worker` (a fork per job), for a job that must not
share its process.

With PROMETHEUS_MULTIPROC_DIR set (the same directory as the web processes), what jobs count
(ERP calls, webhook deliveries, time in a stage) reaches `/metrics`: each process writes its own
files there, and when a worker or a forked job exits it is marked dead, as gunicorn.conf.py does
for web workers, so live gauges of a process that is gone are not added up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.worker import BaseWorker, DequeueStrategy
from rq.worker_pool import WorkerData, WorkerPool

from app.documents.sweeper import ArmsTheSweep, heartbeat_seconds

log = structlog.get_logger(__name__)

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
WORKER_CLASSES: dict[str, type[BaseWorker]] = {"simple": SimpleWorker, "fork": Worker}


def worker_class(kind: str, max_jobs: int) -> type[BaseWorker]:
    """The class each supervised process runs: RQ's, with the job limit of this deployment."""
    try:
        base = WORKER_CLASSES[kind]
    except KeyError:
        raise ValueError(
            f"WORKER_CLASS={kind!r} is not one of {', '.join(WORKER_CLASSES)}"
        ) from None

    def work(self: BaseWorker, *args: Any, **kwargs: Any) -> bool:
        _die_with_parent()
        kwargs.setdefault("max_jobs", max_jobs or None)
        # Queues in turn, not in order: under a steady load the default queue never empties,
        # and posting (the erp queue) would wait behind it until the load stops.
        kwargs.setdefault("dequeue_strategy", DequeueStrategy.ROUND_ROBIN)
        return base.work(self, *args, **kwargs)

    # Each also keeps the outbox sweep scheduled, even after Redis lost its data.
    if base is Worker:
        bases: tuple[type, ...] = (ForgetsFinishedHorses, ArmsTheSweep, base)
    else:
        bases = (BeatsDuringJobs, ArmsTheSweep, base)
    return type(f"Portal{base.__name__}", bases, {"work": work})


class BeatsDuringJobs(BaseWorker):
    """Mixin for a worker that runs jobs in its own process: a thread keeps its heartbeat
    going while a job runs, as a forking worker's parent does, so a long job is not taken for
    one whose worker died (`app.documents.sweeper.worker_is_alive`)."""

    def execute_job(self, job: Job, queue: Queue) -> Any:
        with self._beating(job):
            return super().execute_job(job, queue)

    @contextmanager
    def _beating(self, job: Job) -> Iterator[None]:
        done = threading.Event()
        interval, ttl = heartbeat_seconds(), self.get_heartbeat_ttl(job)

        def beat() -> None:
            while not done.wait(interval):
                try:
                    self.heartbeat(ttl)
                except RedisError:
                    log.warning("worker heartbeat failed", worker=self.name, exc_info=True)

        thread = threading.Thread(target=beat, name="rq-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


class ForgetsFinishedHorses(BaseWorker):
    """Mixin for RQ's forking worker: the process forked for a job is marked dead for the
    metrics once it has exited."""

    def wait_for_horse(self) -> tuple[int | None, int | None, Any]:
        pid, status, rusage = super().wait_for_horse()  # type: ignore[misc]
        if pid:
            forget_process(pid)
        return pid, status, rusage


class Supervisor(WorkerPool):
    """RQ's pool, which also marks a worker process that exited dead for the metrics."""

    def handle_dead_worker(self, worker_data: WorkerData) -> None:
        forget_process(worker_data.pid)
        super().handle_dead_worker(worker_data)


def forget_process(pid: int) -> None:
    """prometheus-client's bookkeeping for a process that exited: its counters and histograms
    stay in the shared directory (they still add up), its live gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its supervisor dies, even by kill -9, so no worker
    outlives it unsupervised (elsewhere the supervisor's SIGTERM handler stops them)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the supervisor died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def supervise(
    connection: Redis,
    queue_names: Sequence[str],
    *,
    processes: int,
    kind: str,
    max_jobs: int,
    burst: bool = False,
) -> None:
    """Run `processes` workers on `queue_names` until SIGINT/SIGTERM (or, in burst mode,
    until the queues are empty), replacing any worker that dies."""
    pool = Supervisor(
        list(queue_names),
        connection=connection,
        num_workers=processes,
        worker_class=worker_class(kind, max_jobs),
    )
    pool.start(burst=burst, logging_level="WARNING")
