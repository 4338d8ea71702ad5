"""Tokens issued per second, and what checking a token costs on each API call, each measured
against a bare Flask endpoint served by gunicorn with the same settings, in one run.

    python bench/token_bench.py [seconds-per-case]      (default 5)

It creates (or empties) a scratch PostgreSQL database, migrates and seeds it (one active supplier,
one client_secret_basic client), starts two gunicorn servers (the portal's wsgi:app and
bench/oauth_bare_app.py; same workers and worker class), drives each case with a thread-pool
HTTP client at concurrency 1 (latency) and 4 (throughput), then times the token check in process
to split its cost into signature, deny-list and client lookup. Environment: BENCH_DATABASE_URL
(default postgresql://127.0.0.1/bench_oauth), BENCH_REDIS_URL (redis://127.0.0.1:6379/12),
BENCH_WORKERS (2).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1/bench_oauth")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
WORKERS = os.environ.get("BENCH_WORKERS", "2")
PORTAL_PORT, BARE_PORT = 18_431, 18_432
PORTAL, BARE = f"http://127.0.0.1:{PORTAL_PORT}", f"http://127.0.0.1:{BARE_PORT}"
CONCURRENCY = (1, 4)
IN_PROCESS_ROUNDS = 2000


def portal_env() -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "QUEUE_BACKEND": "redis",
        "LOG_LEVEL": "WARNING",
        # The token endpoint is limited per client and per IP; the bench is one client on one
        # IP asking as fast as it can, so it raises both (their check still runs).
        "THROTTLE_TOKEN_PER_CLIENT_PER_MINUTE": "100000000",
        "THROTTLE_TOKEN_PER_IP_PER_MINUTE": "100000000",
    }


# -- database ----------------------------------------------------------------------------------


def ensure_database() -> None:
    """CREATE DATABASE if it is missing (connecting to the server's `postgres` database)."""
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate_and_seed() -> tuple[str, str]:
    """Empty the scratch schema, migrate to heads, add one supplier and one client."""
    os.environ.update(portal_env())
    from bench_setup import unthrottled_supplier
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.db import db, unit_of_work
    from app.oauth import scopes, services

    app = create_app("development")
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(revision="heads")
        with unit_of_work():
            org = unthrottled_supplier("Bench Supplier", scopes.SCOPES)
            client, secret = services.create_client(org, "bench", list(scopes.SCOPES))
        return client.client_id, secret or ""


# -- servers -----------------------------------------------------------------------------------


def start_gunicorn(target: str, port: int, probe: str) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers", WORKERS,
        "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        target,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=portal_env())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}{probe}", timeout=5).status_code == 200:
                return process
        except requests.RequestException:  # not listening yet, or its workers still booting
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn {target} did not start on port {port}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# -- load --------------------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    label: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, quantile: float | None = None) -> float:
        if not self.latencies:
            return float("nan")
        if quantile is None:
            return statistics.fmean(self.latencies) * 1000
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    call: Callable[[requests.Session], int]  # one request; returns its status code


def drive(case: Case, concurrency: int, seconds: float) -> Result:
    """Run the case from `concurrency` threads for `seconds`."""
    result = Result(case.key, case.label, concurrency, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status = case.call(session)
                elapsed = time.perf_counter() - started
                with lock:
                    if status == 200:
                        result.latencies.append(elapsed)
                    else:
                        result.errors += 1

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return result


def fetch_token(client_id: str, secret: str) -> str:
    response = requests.post(
        PORTAL + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def cases(client_id: str, secret: str) -> list[Case]:
    form, auth = {"grant_type": "client_credentials"}, (client_id, secret)
    bearer = {"Authorization": f"Bearer {fetch_token(client_id, secret)}"}
    return [
        Case("bare-get", "bare Flask  GET  /bare",
             lambda s: s.get(BARE + "/bare", timeout=10).status_code),
        Case("healthz", "portal      GET  /healthz",
             lambda s: s.get(PORTAL + "/healthz", timeout=10).status_code),
        Case("me", "portal      GET  /api/v1/me",
             lambda s: s.get(PORTAL + "/api/v1/me", headers=bearer, timeout=10).status_code),
        Case("bare-post", "bare Flask  POST /bare",
             lambda s: s.post(BARE + "/bare", data=form, auth=auth, timeout=10).status_code),
        Case("token", "portal      POST /oauth/token",
             lambda s: s.post(PORTAL + "/oauth/token", data=form, auth=auth, timeout=10).status_code),
    ]  # fmt: skip


# -- the token check, in process ---------------------------------------------------------------


def time_in_process(token: str) -> dict[str, float]:
    """Microseconds per call of the whole check and of its three parts."""
    from app import create_app
    from app.oauth import denylist, tokens

    app = create_app("development")
    with app.test_request_context("/api/v1/me", base_url=PORTAL):
        claims = tokens.decode(token)
        parts = {
            "whole check (tokens.verify)": lambda: tokens.verify(token),
            "  signature + RFC 9068 claims": lambda: tokens.decode(token),
            "  deny-list (Redis)": lambda: denylist.is_denied(claims["jti"]),
            "  client + organization (PostgreSQL)": lambda: tokens._active_client(
                claims["client_id"]
            ),
        }
        return {name: _microseconds(fn) for name, fn in parts.items()}


def _microseconds(fn: Callable[[], object]) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(IN_PROCESS_ROUNDS):
        fn()
    return (time.perf_counter() - started) / IN_PROCESS_ROUNDS * 1e6


# -- report ------------------------------------------------------------------------------------


def report(results: list[Result], in_process: dict[str, float]) -> None:
    print(
        f"\ngunicorn --workers {WORKERS} --worker-class sync, for both servers; "
        f"thread-pool client on the same machine ({os.cpu_count()} CPUs)"
    )
    print(
        f"{'case':<30} {'conc':>4} {'req/s':>7} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for r in results:
        print(
            f"{r.label:<30} {r.concurrency:>4} {r.rate:>7.0f} {r.ms():>8.2f} "
            f"{r.ms(0.5):>7.2f} {r.ms(0.99):>7.2f} {r.errors:>6}"
        )
    at = {(r.key, r.concurrency): r for r in results}
    most = max(CONCURRENCY)
    print("\nsummary")
    print(
        f"  tokens issued per second (concurrency {most}): {at['token', most].rate:.0f}"
        f"  (bare Flask POST: {at['bare-post', most].rate:.0f} req/s)"
    )
    print(
        f"  token issuance costs {at['token', 1].ms() - at['bare-post', 1].ms():.2f} ms"
        " per request over the bare Flask POST (concurrency 1)"
    )
    print(
        f"  token checking costs {at['me', 1].ms() - at['bare-get', 1].ms():.2f} ms per API call"
        f" over the bare Flask GET ({at['me', 1].ms() - at['healthz', 1].ms():.2f} ms over the"
        " portal's own unprotected /healthz), concurrency 1"
    )
    print(
        f"  API calls per second with a token check (concurrency {most}): {at['me', most].rate:.0f}"
        f"  (bare Flask GET: {at['bare-get', most].rate:.0f} req/s)"
    )
    print("\nin process, per call")
    for name, micros in in_process.items():
        print(f"  {name:<38} {micros:>8.0f} µs")  # fmt: skip


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    ensure_database()
    client_id, secret = migrate_and_seed()
    servers = [
        start_gunicorn("wsgi:app", PORTAL_PORT, "/healthz"),
        start_gunicorn("bench.oauth_bare_app:app", BARE_PORT, "/bare"),
    ]
    try:
        plan = cases(client_id, secret)
        results = [drive(case, c, seconds) for c in CONCURRENCY for case in plan]
        in_process = time_in_process(fetch_token(client_id, secret))
    finally:
        for server in servers:
            stop(server)
    report(results, in_process)


if __name__ == "__main__":
    main()
