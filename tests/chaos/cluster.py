"""The portal as it runs in production, on loopback: its own PostgreSQL database, its own
redis-server, two gunicorn web processes and three RQ workers, next to the mock ERP.

Every process is a real subprocess the scenarios can hurt: workers are killed with SIGKILL
(their whole process group, the work horse included, as an OOM kill or a lost machine would),
Redis is flushed or stopped, PostgreSQL backends are terminated.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import psycopg
import redis
import requests

from tests.erp.fixtures import MockErpProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WEB_PROCESSES = 2
WORKER_PROCESSES = 3
START_TIMEOUT = 30.0

# What the portal's processes run with: short ERP timeouts (a hung ERP costs seconds, not
# minutes) and a sweep that looks for lost work every few seconds instead of every minute.
PORTAL_SETTINGS = {
    "APP_ENV": "development",
    "LOG_LEVEL": "WARNING",
    "QUEUE_BACKEND": "redis",
    "ERP_CONNECT_TIMEOUT": "0.5",
    "ERP_READ_TIMEOUT": "2.0",
    "INTAKE_SWEEP_DELAY_SECONDS": "3",
    "INTAKE_SWEEP_INTERVAL_SECONDS": "3",
    "INTAKE_SWEEP_MAX_RESENDS": "100",
    # A worker killed during a job is taken for dead after three missed beats (3 s).
    "WORKER_HEARTBEAT_SECONDS": "1",
    # Read once posting and the worker supervisor are on the branch (ignored before): one
    # worker per `flask worker` process, short backoff and breaker, a reconciler that looks
    # at documents seconds old rather than minutes.
    "WORKER_PROCESSES": "1",
    "POSTING_BACKOFF_BASE": "1",
    "POSTING_BACKOFF_CAP": "5",
    "POSTING_LEASE_SECONDS": "10",
    "BREAKER_OPEN_SECONDS": "3",
    "RECONCILE_AFTER_SECONDS": "5",
    "RECONCILE_MAX_RESENDS": "100",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Process:
    """One subprocess of the cluster, in its own process group, logging to a file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    log: IO[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole group: the process and any child it forked (an RQ work horse)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self._close_log()

    def restart(self) -> None:
        self.kill9()
        self.restarts += 1
        self.start()

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None:
            return
        if self.alive:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill9()
        self._close_log()

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def _close_log(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


@dataclass
class RedisServer:
    """A redis-server of the cluster's own on a spare port (append-only file on, so a stop
    and start keeps its data the way a restarted production Redis does)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--dir", str(self.workdir),
        ]  # fmt: skip
        self.process = Process("redis", args, dict(os.environ), self.workdir / "redis.log")
        self.process.start()
        self._wait_up()

    def stop(self) -> None:
        assert self.process is not None
        self.process.stop()

    def flushdb(self) -> None:
        self.client().flushdb()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def _wait_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with self.client() as connection:
                    if connection.ping():
                        return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")


@dataclass
class Supplier:
    """A supplier organization of the cluster and the API client it submits with."""

    org_id: int
    name: str
    vendor_number: str
    client_id: str
    client_secret: str


@dataclass
class Cluster:
    workdir: Path
    database_url: str
    redis: RedisServer
    erp: MockErpProcess
    env: dict[str, str] = field(default_factory=dict)
    webs: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    suppliers: list[Supplier] = field(default_factory=list)

    @property
    def web_urls(self) -> list[str]:
        return [process.env["CHAOS_URL"] for process in self.webs]

    def flask(self, *args: str, timeout: float = 60) -> str:
        """Run `flask --app wsgi <args>` against the cluster; its output, or an error."""
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def python(self, module: str, timeout: float = 60) -> str:
        """Run `python -m module` with the cluster's environment; its output, or an error."""
        result = subprocess.run(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{module} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def sql(self, query: str, *params: Any) -> list[tuple]:
        """Run one query on the portal's database from outside the portal (autocommit)."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def start_web(self, index: int) -> Process:
        port = free_port()
        env = self.env | {"CHAOS_URL": f"http://127.0.0.1:{port}"}
        args = [
            str(BIN / "gunicorn"), "wsgi:app",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--threads", "4",
            "--graceful-timeout", "2",
            "--control-socket", str(self.workdir / f"web{index}.ctl"),
        ]  # fmt: skip
        process = Process(f"web{index}", args, env, self.workdir / f"web{index}.log")
        process.start()
        self._wait_web(process)
        return process

    def start_worker(self, index: int) -> Process:
        args = [str(BIN / "flask"), "--app", "wsgi", "worker"]
        process = Process(f"worker{index}", args, self.env, self.workdir / f"worker{index}.log")
        process.start()
        return process

    def ensure_workers(self) -> None:
        """What a supervisor does: start again every worker that is not running."""
        for worker in self.workers:
            if not worker.alive:
                worker.restart()

    def assert_healed(self) -> None:
        """After a fault: Redis, the ERP and every process are up again (a scenario that could
        not heal would otherwise be counted as the portal losing documents)."""
        with self.redis.client() as connection:
            assert connection.ping(), "the cluster's Redis did not come back"
        self.erp.wait_until_up()
        dead = [p.name for p in [*self.webs, *self.workers] if not p.alive]
        assert not dead, f"processes down after the fault: {dead}"

    def wait_workers(self) -> None:
        """Until every worker process has registered with RQ: the first scenario must not
        count their start-up as its own (nor the console read it as workers missing)."""
        deadline = time.monotonic() + START_TIMEOUT
        with self.redis.client() as connection:
            while connection.scard("rq:workers") < WORKER_PROCESSES:
                dead = [w.name for w in self.workers if not w.alive]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not start (exited: {dead})")
                time.sleep(0.1)

    def _wait_web(self, process: Process) -> None:
        url = process.env["CHAOS_URL"]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not process.alive:
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{process.name} did not start:\n{process.tail()}")

    def stop(self) -> None:
        """Stop everything at once: the suite is over, nothing needs a warm shutdown."""
        for process in [*self.webs, *self.workers]:
            process.kill9()


def admin_url(database_url: str, name: str) -> str:
    """The same server as `database_url`, database `name`."""
    parts = urlsplit(database_url)
    return parts._replace(path=f"/{name}").geturl()


def create_database(template_url: str, name: str) -> str:
    parts = urlsplit(template_url)
    host = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    user = ["-U", parts.username] if parts.username else []
    subprocess.run(["dropdb", *host, *user, "--if-exists", "--force", name], check=True)
    subprocess.run(["createdb", *host, *user, name], check=True)
    return admin_url(template_url, name)


def drop_database(database_url: str) -> None:
    parts = urlsplit(database_url)
    host = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    user = ["-U", parts.username] if parts.username else []
    name = parts.path.lstrip("/")
    subprocess.run(["dropdb", *host, *user, "--if-exists", "--force", name], check=False)


def start_cluster(workdir: Path, template_url: str, erp: MockErpProcess) -> Cluster:
    """Create the database, start Redis, migrate and seed, then the web and worker processes."""
    database_url = create_database(template_url, f"chaos_{os.getpid()}")
    redis_server = RedisServer(workdir)
    redis_server.start()
    env = dict(os.environ) | PORTAL_SETTINGS
    env |= {
        "INSTANCE_PATH": str(workdir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "ERP_URL": erp.url,
        "ERP_API_KEY": erp.api_key,
    }
    cluster = Cluster(workdir, database_url, redis_server, erp, env)
    cluster.flask("db", "upgrade", timeout=120)
    cluster.suppliers = [Supplier(**row) for row in json.loads(cluster.python("tests.chaos.seed"))]
    cluster.webs = [cluster.start_web(i) for i in range(WEB_PROCESSES)]
    cluster.workers = [cluster.start_worker(i) for i in range(WORKER_PROCESSES)]
    cluster.wait_workers()
    return cluster
