"""`flask --app wsgi worker` as it runs in production: supervised processes that run jobs
without a fork per job, still stop a job that runs too long, and are replaced when they die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus

from tests.foundation import worker_jobs

pytestmark = [pytest.mark.slow, pytest.mark.no_db]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def redis() -> Redis:
    return Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


@pytest.fixture
def start_workers(redis: Redis) -> Iterator[Callable[..., Queue]]:
    started: list[subprocess.Popen] = []

    def start(processes: int, **env: str) -> Queue:
        name = f"workers-test-{uuid.uuid4().hex[:8]}"
        process = subprocess.Popen(
            [
                str(BIN / "flask"),
                "--app",
                "wsgi",
                "worker",
                "--processes",
                str(processes),
                "--queue",
                name,
            ],
            cwd=ROOT,
            env={**os.environ, "APP_ENV": "testing", **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        queue = Queue(name, connection=redis)
        _until(lambda: len(Worker.all(queue=queue)) == processes, f"{processes} workers up")
        return queue

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _results(jobs: list[Job]) -> list[int]:
    _until(lambda: all(job.get_status(refresh=True) == JobStatus.FINISHED for job in jobs), "jobs")
    return [job.return_value() for job in jobs]


def test_jobs_run_in_the_worker_processes_not_a_fork_each(start_workers) -> None:
    queue = start_workers(2)
    pids = _results([queue.enqueue(worker_jobs.whoami) for _ in range(20)])
    workers = {worker.pid for worker in Worker.all(queue=queue)}
    assert set(pids) <= workers, "a job ran in a process other than a worker: a fork per job"


def test_a_job_that_runs_too_long_is_stopped_and_the_worker_goes_on(start_workers) -> None:
    queue = start_workers(1)
    (worker,) = Worker.all(queue=queue)
    slow = queue.enqueue(worker_jobs.sleep, 30, job_timeout=1)
    _until(lambda: slow.get_status(refresh=True) == JobStatus.FAILED, "the timeout", seconds=10)
    assert "JobTimeoutException" in (slow.latest_result().exc_string or "")
    assert _results([queue.enqueue(worker_jobs.whoami)]) == [worker.pid]


def test_a_worker_beats_while_its_job_runs_and_stops_when_killed(start_workers) -> None:
    """The sweeper takes a started job's worker for dead after three missed beats; a long job
    must not look like that, and a killed worker must, within seconds."""
    from app import create_app
    from app.documents.sweeper import stale_heartbeat_seconds, worker_is_alive

    queue = start_workers(1, WORKER_HEARTBEAT_SECONDS="1", INTAKE_SWEEP_INTERVAL_SECONDS="3")
    (worker,) = Worker.all(queue=queue)
    long_job = queue.enqueue(worker_jobs.sleep, 15)
    _until(lambda: long_job.get_status(refresh=True) == JobStatus.STARTED, "the job to start")
    app = create_app("testing", {"WORKER_HEARTBEAT_SECONDS": 1, "INTAKE_SWEEP_INTERVAL_SECONDS": 3})
    beats = set()
    with app.app_context():
        assert stale_heartbeat_seconds() == 3
        for _ in range(10):  # five seconds into a fifteen-second job
            assert worker_is_alive(queue.connection, worker.name)
            beats.add(queue.connection.hget(worker.key, "last_heartbeat"))
            time.sleep(0.5)
        assert len(beats) >= 4, "the worker did not beat during its job"

        os.kill(worker.pid, signal.SIGKILL)
        _until(lambda: not worker_is_alive(queue.connection, worker.name), "dead", seconds=6)
    assert long_job.get_status(refresh=True) == JobStatus.STARTED  # RQ still thinks it runs


def test_a_worker_killed_by_its_job_is_replaced(start_workers) -> None:
    queue = start_workers(2)
    before = {worker.pid for worker in Worker.all(queue=queue)}
    queue.enqueue(worker_jobs.crash)
    # The killed worker's registration lingers until its TTL; a new pid is the replacement.
    _until(
        lambda: bool({w.pid for w in Worker.all(queue=queue)} - before),
        "a new worker in place of the killed one",
    )
    assert len(_results([queue.enqueue(worker_jobs.whoami) for _ in range(5)])) == 5


def test_a_worker_leaves_after_its_job_limit_and_a_fresh_one_follows(start_workers) -> None:
    queue = start_workers(1, WORKER_MAX_JOBS="3")
    pids = []
    for _ in range(9):  # one at a time, so each process's three jobs are in order
        pids += _results([queue.enqueue(worker_jobs.whoami)])
    assert len(set(pids)) == 3
    assert pids == sorted(pids, key=pids.index)  # each pid's jobs are consecutive


def test_workers_do_not_outlive_a_supervisor_killed_with_kill_9(start_workers) -> None:
    queue = start_workers(2)
    workers = [worker.pid for worker in Worker.all(queue=queue)]
    (supervisor,) = {_parent_of(pid) for pid in workers}
    os.kill(supervisor, signal.SIGKILL)
    _until(lambda: not any(_alive(pid) for pid in workers), "the workers to stop")


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_worker_takes_its_queues_in_turn_so_a_busy_queue_starves_none(redis) -> None:
    first = Queue(f"workers-test-{uuid.uuid4().hex[:8]}", connection=redis)
    second = Queue(f"workers-test-{uuid.uuid4().hex[:8]}", connection=redis)
    # Six jobs wait on the first queue and one on the second before the worker starts.
    busy = [first.enqueue(worker_jobs.sleep, 0.05) for _ in range(6)]
    late = second.enqueue(worker_jobs.whoami)
    worker = subprocess.run(
        [
            *(str(BIN / "flask"), "--app", "wsgi", "worker", "--burst", "--processes", "1"),
            *("--queue", first.name, "--queue", second.name),
        ],
        cwd=ROOT,
        env={**os.environ, "APP_ENV": "testing"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
    order = sorted([*busy, late], key=lambda job: Job.fetch(job.id, connection=redis).ended_at)
    assert order.index(late) <= 1, "the second queue waited for the first to empty"


def set_a_live_gauge() -> int:
    """A job with a gauge whose value only means something while its process lives."""
    from prometheus_client import Gauge

    Gauge("portal_test_live", "A live gauge.", multiprocess_mode="livesum", registry=None).set(1)
    return os.getpid()


def test_a_worker_that_dies_is_marked_dead_for_the_metrics(start_workers, tmp_path) -> None:
    """With a metrics directory shared with web, the supervisor forgets a dead worker's live
    gauges (prometheus-client's mark_process_dead) and keeps its counters."""
    queue = start_workers(1, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    (pid,) = _results([queue.enqueue(set_a_live_gauge)])
    live = tmp_path / f"gauge_livesum_{pid}.db"
    assert live.is_file()
    queue.enqueue(worker_jobs.crash)
    _until(lambda: not live.exists(), "the dead worker's live gauge to go")
    assert _results([queue.enqueue(worker_jobs.whoami)]) != [pid]  # a replacement took over
