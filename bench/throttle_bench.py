"""What throttling costs an API call: in one run, under the same gunicorn settings, the
throughput and web-process CPU per request of a bare Flask endpoint, of an API-like endpoint
and of the real invoice intake (`POST /api/v1/invoices`), each with throttling off and on
(goal: under 10%), plus the API-like endpoint making one bare Redis PING instead (the floor
any one-round-trip limiter pays). Script calls per request come from Redis' own statistics.

Run: `python bench/throttle_bench.py` (PostgreSQL and Redis must be up; defaults are the
throttling test database and Redis db 13, so do not run it while those tests run).

Targets are parameters: `--path`, `--body-file`, `--content-type` and `--header` choose the
API-like call, `--intake-path` the token-protected one (its client and token are made by the
OAuth package's services; `--intake-path ''` leaves it out), and `--app` serves both from
another WSGI app, e.g. `wsgi:app` once config.py reads THROTTLE_ENABLED from the environment
(the bench sets it, and BENCH_THROTTLE for its own app, per server).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
INTAKE_PATH = "/api/v1/invoices"
ISSUER = "http://portal.bench"  # the OAUTH_ISSUER of the bench's app and of its tokens
# One canonical JSON invoice, as a partner's system would send it.
INTAKE_BODY = {
    "documents": [
        {
            "invoice_number": "BENCH-1",
            "issue_date": "2026-01-05",
            "currency": "USD",
            "supplier": {"name": "Bench Medical"},
            "lines": [
                {
                    "line_id": str(n),
                    "description": f"Item {n}",
                    "quantity": "2",
                    "unit_price": "5.00",
                    "line_extension_amount": "10.00",
                }
                for n in range(1, 11)
            ],
            "totals": {"line_total": "100.00", "tax_total": "0", "payable": "100.00"},
        }
    ]
}
DEFAULT_BODY = {
    "number": "BENCH-1",
    "currency": "EUR",
    "lines": [
        {"line": n, "item": f"SKU-{n}", "quantity": 2, "unit_price": "12.50"} for n in range(20)
    ],
}


@dataclass(frozen=True)
class Target:
    label: str
    port: int
    path: str
    method: str
    body: bytes
    headers: dict[str, str]
    server: int  # pid of its gunicorn master


@dataclass
class Result:
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]
    server_cpu: float = 0.0  # CPU seconds the target's gunicorn processes used meanwhile

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1/test_throttling"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    )
    parser.add_argument("--app", default="throttle_app:app", help="WSGI app of the API runs")
    parser.add_argument("--path", default="/api/bench/invoices", help="the API-like path")
    parser.add_argument(
        "--intake-path", default=INTAKE_PATH, help="the real intake path ('' to leave it out)"
    )
    parser.add_argument("--body-file", help="request body (default: a 20-line JSON invoice)")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (as deployed)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--seconds", type=float, default=5.0, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--redis-timeout",
        type=float,
        default=0.25,
        help="THROTTLE_REDIS_TIMEOUT of the bench app: generous by default, so that a busy "
        "shared host does not send requests to the local fallback and the figures measure "
        "the Redis path (production keeps its 20 ms)",
    )
    return parser.parse_args()


# -- load generator ------------------------------------------------------------------------


def _connection_loop(target: Target, deadline: float, out: list) -> None:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            conn.request(target.method, target.path, body=target.body, headers=target.headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
            statuses[0] = statuses.get(0, 0) + 1
            continue
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
    conn.close()
    out.append((statuses, latencies))


def _load_process(target: Target, threads: int, seconds: float, queue) -> None:
    deadline = time.perf_counter() + seconds
    out: list = []
    workers = [
        threading.Thread(target=_connection_loop, args=(target, deadline, out))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(out)


def measure(target: Target, concurrency: int, seconds: float, server: int) -> Result:
    """`concurrency` keep-alive connections from two client processes for `seconds`."""
    processes = 2
    cpu_before = server_cpu(server)
    queue = multiprocessing.Queue()
    started = time.perf_counter()
    procs = [
        multiprocessing.Process(
            target=_load_process, args=(target, concurrency // processes, seconds, queue)
        )
        for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    collected = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    for per_process in collected:
        for per_thread_statuses, per_thread_latencies in per_process:
            for code, count in per_thread_statuses.items():
                statuses[code] = statuses.get(code, 0) + count
            latencies += per_thread_latencies
    cpu = server_cpu(server) - cpu_before
    return Result(len(latencies), min(elapsed, seconds + 0.05), statuses, latencies, cpu)


# -- servers -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process_cpu(pid: int) -> float:
    """utime + stime of one process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(master: int) -> float:
    """CPU seconds of a gunicorn master and its workers: unlike throughput, it does not
    depend on what else the machine is running."""
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total = 0.0
    for pid in pids:
        try:
            total += _process_cpu(pid)
        except OSError:
            continue
    return total


def _gunicorn(app: str, port: int, opts: argparse.Namespace, env: dict) -> subprocess.Popen:
    """Every server gets the same settings: only the app and THROTTLE_ENABLED differ."""
    command = [
        sys.executable, "-m", "gunicorn", app,
        "--pythonpath", f"{ROOT},{BENCH}",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(opts.workers),
        "--worker-class", "gthread",
        "--threads", str(opts.threads),
        "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn on port {port} did not start")


# -- data ----------------------------------------------------------------------------------


def _server_env(opts: argparse.Namespace, throttle: bool | str) -> dict[str, str]:
    flag = throttle if isinstance(throttle, str) else "1" if throttle else "0"
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": opts.database_url,
        "REDIS_URL": opts.redis_url,
        "LOG_LEVEL": "WARNING",
        "BENCH_THROTTLE": flag,
        "BENCH_ISSUER": ISSUER,
        "BENCH_REDIS_TIMEOUT": str(opts.redis_timeout),
        "THROTTLE_ENABLED": "1" if flag == "1" else "0",
    }


@dataclass(frozen=True)
class BenchData:
    org_id: int
    intake_auth: str | None  # "Bearer ..." of an OAuth client of that organization
    note: str


def _bench_data(opts: argparse.Namespace) -> BenchData:
    """A committed supplier organization on a tier too large to refuse anything (so the
    throttled servers do all of the throttling work and never answer 429), and an OAuth
    client with a token for the real intake endpoint. Rows stay in the bench database,
    which the throttling tests rebuild on every run."""
    os.environ.update(_server_env(opts, throttle=True))
    sys.path.insert(0, str(ROOT))
    from bench_setup import unthrottled_supplier
    from flask_migrate import upgrade

    from app import create_app
    from app.db import db

    app = create_app("development", {"OAUTH_ISSUER": ISSUER})
    with app.app_context():
        upgrade(revision="heads")
        suffix = uuid.uuid4().hex[:8]
        org = unthrottled_supplier(f"Bench {suffix}", ["invoices:write"])
        db.session.commit()
        auth, note = _intake_token(org) if opts.intake_path else (None, "intake not asked for")
        db.session.commit()
        db.engine.dispose()
        return BenchData(org.id, auth, note)


def _intake_token(org) -> tuple[str | None, str]:
    """A token of a fresh OAuth client, made by the OAuth package's own services."""
    try:
        from app.oauth import services
        from app.oauth.tokens import issue_access_token

        client, _ = services.create_client(org, "Bench client", ["invoices:write"])
        return f"Bearer {issue_access_token(client, ['invoices:write'])}", "real intake"
    except Exception as error:  # the bench says why and goes on without the intake
        return None, f"intake skipped: {error!r}"


def _redis_counters(redis_url: str) -> tuple[int, float]:
    """Script calls and CPU seconds of the Redis server so far (shared with anyone else
    using that server, so read them as an upper bound)."""
    from redis import Redis

    redis = Redis.from_url(redis_url)
    stats, cpu = redis.info("commandstats"), redis.info("cpu")
    redis.close()
    calls = sum(stats.get(n, {}).get("calls", 0) for n in ("cmdstat_evalsha", "cmdstat_eval"))
    return calls, cpu["used_cpu_user"] + cpu["used_cpu_sys"]


# -- the run -------------------------------------------------------------------------------


def _targets(
    opts: argparse.Namespace, ports: dict[str, int], pids: dict[str, int], data: BenchData
) -> list[Target]:
    body = (
        Path(opts.body_file).read_bytes() if opts.body_file else json.dumps(DEFAULT_BODY).encode()
    )
    headers = {
        "Content-Type": opts.content_type,
        "X-Bench-Org": str(data.org_id),
        "X-Bench-Client": "990001",
        **dict(h.split(": ", 1) for h in opts.header),
    }
    targets = [Target("bare Flask endpoint", ports["bare"], "/bare", "GET", b"", {}, pids["bare"])]
    for state in ("off", "on"):
        targets.append(
            Target(
                f"API, throttling {state}",
                ports[state],
                opts.path,
                "POST",
                body,
                headers,
                pids[state],
            )
        )
    ping = ping_label()
    targets.append(Target(ping, ports["ping"], opts.path, "POST", body, headers, pids["ping"]))
    if data.intake_auth:
        intake_headers = {"Authorization": data.intake_auth, "Content-Type": "application/json"}
        intake_body = json.dumps(INTAKE_BODY).encode()
        for state in ("off", "on"):
            targets.append(
                Target(
                    f"intake, throttling {state}",
                    ports[state],
                    opts.intake_path,
                    "POST",
                    intake_body,
                    intake_headers,
                    pids[state],
                )
            )
    return targets


def ping_label() -> str:
    return "API, off + one Redis PING"


@dataclass
class Totals:
    """Everything measured for one target over all rounds."""

    runs: list[Result]
    script_calls: int = 0
    redis_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    def per_request(self, value: float) -> float:
        return value / max(1, self.requests)


def _report(targets: list[Target], totals: dict[str, Totals], opts, note: str) -> None:
    print(
        f"\ngunicorn: {opts.workers} workers x {opts.threads} threads (gthread); "
        f"{opts.concurrency} keep-alive connections; {opts.rounds} rounds of {opts.seconds:g} s; "
        f"{os.cpu_count()} CPUs shared by server, client and Redis; Redis timeout "
        f"{opts.redis_timeout:g} s; {note}"
    )
    print(
        f"{'target':26} {'req/s':>7} {'CPU µs/req':>10} {'Redis µs/req':>12} "
        f"{'scripts/req':>11} {'p50 ms':>7} {'p99 ms':>7}  statuses"
    )
    rates, cpus = {}, {}
    for target in targets:
        total = totals[target.label]
        rates[target.label] = statistics.median(r.rate for r in total.runs)
        cpus[target.label] = total.per_request(sum(r.server_cpu for r in total.runs)) * 1e6
        latencies = sorted(x for r in total.runs for x in r.latencies)
        statuses: dict[int, int] = {}
        for run in total.runs:
            for code, count in run.statuses.items():
                statuses[code] = statuses.get(code, 0) + count
        print(
            f"{target.label:26} {rates[target.label]:7.0f} {cpus[target.label]:10.0f} "
            f"{total.per_request(total.redis_cpu) * 1e6:12.0f} "
            f"{total.per_request(total.script_calls):11.2f} "
            f"{latencies[len(latencies) // 2] * 1000:7.2f} "
            f"{latencies[int(len(latencies) * 0.99)] * 1000:7.2f}  {statuses}"
        )
    print()
    pairs = [
        ("throttling costs the API path", "API, throttling off", "API, throttling on"),
        ("throttling costs the intake path", "intake, throttling off", "intake, throttling on"),
        ("one bare Redis PING costs the API path", "API, throttling off", ping_label()),
    ]
    for text, off, on in pairs:
        if off in rates and on in rates:
            print(
                f"{text} {(1 - rates[on] / rates[off]) * 100:.1f}% of its throughput and "
                f"{(cpus[on] / cpus[off] - 1) * 100:.1f}% more web CPU per request"
            )
    print("(goal for throttling: under 10%; the PING line is the floor of any one-trip limiter)")


def _run_rounds(targets: list[Target], opts) -> dict[str, Totals]:
    totals = {t.label: Totals([]) for t in targets}
    for _ in range(opts.rounds):  # interleaved, so drift hits every target alike
        for target in targets:
            calls, cpu = _redis_counters(opts.redis_url)
            result = measure(target, opts.concurrency, opts.seconds, target.server)
            calls_after, cpu_after = _redis_counters(opts.redis_url)
            total = totals[target.label]
            total.runs.append(result)
            total.script_calls += calls_after - calls
            total.redis_cpu += cpu_after - cpu
    return totals


def main() -> None:
    opts = _options()
    data = _bench_data(opts)
    names = ("bare", "off", "on", "ping")
    ports = {name: _free_port() for name in names}
    servers = {
        "bare": _gunicorn(
            "throttle_bare:app", ports["bare"], opts, _server_env(opts, throttle=False)
        ),
        "off": _gunicorn(opts.app, ports["off"], opts, _server_env(opts, throttle=False)),
        "on": _gunicorn(opts.app, ports["on"], opts, _server_env(opts, throttle=True)),
        # The bench's own app only: one bare Redis round trip per call, no throttling.
        "ping": _gunicorn("throttle_app:app", ports["ping"], opts, _server_env(opts, "ping")),
    }
    try:
        for name in names:
            _wait_for(ports[name], servers[name])
        targets = _targets(opts, ports, {n: servers[n].pid for n in names}, data)
        for target in targets:  # warm up: imports, pools, Lua script cache, token keys
            measure(target, opts.concurrency, 1.0, target.server)
        _report(targets, _run_rounds(targets, opts), opts, data.note)
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
