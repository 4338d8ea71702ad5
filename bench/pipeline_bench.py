"""The pipeline's speed, each figure beside a baseline measured in the same run:

1. throughput: two workers take clean invoices from RECEIVED to the pipeline's last automatic
   state (POSTED once posting exists, VALIDATED before), against the rate at which the same two
   workers run empty RQ jobs;
2. latency: at a steady rate (50 documents a second for a minute by default) through the real
   API, the time from the 202 to that state, median and p99;
3. memory: one worker's resident memory after 10,000 documents against after 1,000.

    .venv/bin/python bench/pipeline_bench.py [--documents 1000] [--rate 50] [--seconds 60]
                                             [--memory-documents 10000] [--skip memory]

Everything runs on loopback as in production: gunicorn (2 workers) for the API, the mock ERP as
its own process, `flask --app wsgi worker` for the workers. It needs PostgreSQL and Redis of its
own: BENCH_DATABASE_URL (default postgresql://127.0.0.1/bench_pipeline, dropped and created
afresh) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/12, flushed).

Rates are taken from the workers' own clocks (RQ's job start/end times, the timeline's
timestamps), first completion to last, so the workers' start-up counts for neither side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from statistics import median, quantiles
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1/bench_pipeline")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ERP_KEY = "bench-erp-key"
# The mock ERP's vendor with the most goods received (397 units): at a hundredth of a unit per
# invoice, room for about 39,000 clean invoices. One supplier is the worst case for validation,
# which checks one supplier's invoices one at a time.
VENDOR = "V1009"
STEP = Decimal("0.01")
os.environ.update(
    APP_ENV="development",
    DATABASE_URL=DATABASE_URL,
    REDIS_URL=REDIS_URL,
    LOG_LEVEL="WARNING",
    QUEUE_BACKEND="redis",
    ERP_API_KEY=ERP_KEY,
    # One token serves the whole run; the memory figure alone takes longer than the default
    # fifteen minutes, and a 401 half way through would end it.
    ACCESS_TOKEN_TTL="14400",  # noqa: S106 - a lifetime in seconds, not a secret
)
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """The processes of one run, stopped together at the end (or on Ctrl-C)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None):
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log
        )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


# -- set-up ----------------------------------------------------------------------------------


def fresh_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, check=True, capture_output=True
    )


def prepare(erp_url: str, web_url: str) -> tuple[str, dict]:
    """A supplier that is the mock ERP's vendor V1001 on an unlimited tier, a token for the
    web server, and the PO its invoices are for."""
    from bench_setup import unthrottled_supplier

    from app import create_app
    from app.db import db, unit_of_work
    from app.erp.client import ErpClient
    from app.erp.interface import PoStatus
    from app.jobs import redis_connection
    from app.oauth import scopes, services
    from app.oauth.tokens import issue_access_token

    app = create_app()
    with app.app_context():
        redis_connection().flushdb()
        with unit_of_work():
            org = unthrottled_supplier("Lakeside Medical", scopes.SCOPES)
            org.erp_vendor_number = VENDOR
            client, _ = services.create_client(org, "bench", ["invoices:write", "invoices:read"])
        with app.test_request_context(base_url=web_url):
            token = issue_access_token(client, ["invoices:write", "invoices:read"])
            db.session.commit()
        erp = ErpClient(erp_url, ERP_KEY, 2, 10)
        orders = erp.list_purchase_orders(vendor_number=VENDOR)
        received = (PoStatus.RECEIVED, PoStatus.PARTIALLY_RECEIVED)
        slots = [
            (order, line, int(line.quantity_received / STEP))
            for order in orders
            if order.status in received
            for line in order.lines
            if line.quantity_received > 0
        ]
        supplier = {"portal_id": org.id, "name": org.name, "erp_vendor_number": VENDOR}
    return token, {"slots": slots, "used": [0] * len(slots), "next": 0, "supplier": supplier}


def invoice(setup: dict, index: int) -> bytes:
    """A clean invoice: a hundredth of a unit of one received PO line, at its price, taking the
    vendor's received lines in turn so that thousands stay within what was received; a random
    number, so no two look alike."""
    from app.intake import flip

    slots, used = setup["slots"], setup["used"]
    steps = 1 + index % 3  # amounts differ, as real invoices' do
    for _ in range(len(slots)):
        position = setup["next"] = (setup["next"] + 1) % len(slots)
        order, line, capacity = slots[position]
        if used[position] + steps <= capacity:
            used[position] += steps
            break
    else:
        raise SystemExit(f"{VENDOR}'s received goods are all invoiced: ask for fewer documents")
    body = flip.invoice_from_po(
        order,
        [flip.FlipLine(line.line_number, STEP * steps, line.unit_price)],
        supplier=flip.FlipSupplier(**setup["supplier"]),
        invoice_number=f"B{uuid.uuid4().hex[:12].upper()}",
        issue_date=dt.datetime.now(dt.UTC).date(),
    )
    return json.dumps(body).encode()


# -- figures ---------------------------------------------------------------------------------


def final_state() -> str:
    return "POSTED" if importlib.util.find_spec("app.posting") else "VALIDATED"


def sql(query: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(DATABASE_URL.replace("+psycopg", "")) as connection:
        return connection.execute(query, params).fetchall()


def submit(web_url: str, token: str, bodies: list[bytes], clients: int = 8) -> list[tuple]:
    """POST each body; (document id, monotonic time of the 202, wall time of the 202)."""
    local = threading.local()

    def one(body: bytes) -> tuple[int, float]:
        session = local.__dict__.setdefault("session", requests.Session())
        response = session.post(
            f"{web_url}/api/v1/invoices",
            data=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
            timeout=30,
        )
        if response.status_code != 202:
            raise SystemExit(f"intake answered {response.status_code}: {response.text[:300]}")
        return response.json()["documents"][0]["id"], time.time()

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, bodies))


def wait_until_done(ids: list[int], state: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        (done,) = sql(
            "SELECT count(*) FROM documents WHERE id = ANY(%s) AND state = %s", ids, state
        )[0]
        if done == len(ids):
            return
        stuck = sql("SELECT state, count(*) FROM documents WHERE id = ANY(%s) GROUP BY state", ids)
        if all(s in (state, "ON_HOLD", "REJECTED", "DEAD") for s, _ in stuck) and len(stuck) > 1:
            raise SystemExit(f"documents left the clean path: {stuck}")
        time.sleep(0.25)
    states = sql("SELECT state, count(*) FROM documents GROUP BY state")
    raise SystemExit(f"timed out with documents in {states}")


def arrival_times(ids: list[int], state: str) -> dict[int, float]:
    rows = sql(
        "SELECT document_id, max(at) FROM document_events WHERE document_id = ANY(%s)"
        " AND to_state = %s GROUP BY document_id",
        ids,
        state,
    )
    return {document_id: at.replace(tzinfo=dt.UTC).timestamp() for document_id, at in rows}


def span_rate(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0])


def empty_job_rate(procs: Processes, count: int) -> float:
    from redis import Redis
    from rq import Queue

    redis = Redis.from_url(REDIS_URL)
    queue = Queue("default", connection=redis)
    jobs = [Queue.prepare_data("os.getpid", result_ttl=600) for _ in range(count)]
    enqueued = queue.enqueue_many(jobs)
    workers = procs.start(
        "empty-workers", [str(BIN / "flask"), "--app", "wsgi", "worker", "--processes", "2"]
    )
    deadline = time.monotonic() + 300
    while queue.count or any(job.get_status(refresh=True) != "finished" for job in enqueued[-20:]):
        if time.monotonic() > deadline:
            raise SystemExit("empty jobs did not finish")
        time.sleep(0.2)
    time.sleep(1)
    ends = [
        job.ended_at.timestamp()
        for job in (j for j in enqueued if j.refresh() or True)
        if job.ended_at
    ]
    procs.stop(workers)
    return span_rate(ends)


def throughput(procs: Processes, web_url: str, token: str, setup: dict, count: int) -> float:
    ids = [i for i, _ in submit(web_url, token, [invoice(setup, n) for n in range(count)])]
    state = final_state()
    workers = procs.start(
        "workers", [str(BIN / "flask"), "--app", "wsgi", "worker", "--processes", "2"]
    )
    wait_until_done(ids, state, seconds=600)
    procs.stop(workers)
    return span_rate(list(arrival_times(ids, state).values()))


def latency(
    procs: Processes, web_url: str, token: str, setup: dict, *, rate: float, seconds: float
) -> tuple[float, float, float]:
    state = final_state()
    workers = procs.start(
        "workers-latency", [str(BIN / "flask"), "--app", "wsgi", "worker", "--processes", "2"]
    )
    time.sleep(3)  # both workers up and idle
    bodies = [invoice(setup, n) for n in range(int(rate * seconds))]
    sent: list[tuple[int, float]] = []
    lock = threading.Lock()
    start = time.monotonic()

    def send_at(index: int, body: bytes) -> None:
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        result = submit(web_url, token, [body], clients=1)[0]
        with lock:
            sent.append(result)

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(send_at, range(len(bodies)), bodies))
    achieved = len(sent) / (time.monotonic() - start)
    ids = [i for i, _ in sent]
    wait_until_done(ids, state, seconds=1200)
    procs.stop(workers)
    arrived = arrival_times(ids, state)
    waits = sorted(arrived[i] - answered for i, answered in sent)
    return median(waits), quantiles(waits, n=100)[98], achieved


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory(procs: Processes, web_url: str, token: str, setup: dict, total: int) -> tuple[int, int]:
    from redis import Redis
    from rq import Worker

    state = final_state()
    workers = procs.start(
        "workers-memory", [str(BIN / "flask"), "--app", "wsgi", "worker", "--processes", "1"]
    )
    redis = Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 120
    while not (workers_up := Worker.all(connection=redis)):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not start")
        time.sleep(0.5)
    (worker,) = workers_up
    first = total // 10
    done = 0
    figures = []
    for target in (first, total):
        batch = [invoice(setup, n) for n in range(target - done)]
        for chunk in range(0, len(batch), 500):
            ids = [i for i, _ in submit(web_url, token, batch[chunk : chunk + 500])]
            wait_until_done(ids, state, seconds=600)
        done = target
        figures.append(rss_kb(worker.pid))
    procs.stop(workers)
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--memory-documents", type=int, default=10_000)
    parser.add_argument(
        "--skip", action="append", default=[], choices=["throughput", "latency", "memory"]
    )
    args = parser.parse_args()

    # Ctrl-C or a kill still stops the processes this run started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    logs = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    procs = Processes(logs)
    erp_port, web_port = free_port(), free_port()
    erp_url, web_url = f"http://127.0.0.1:{erp_port}", f"http://127.0.0.1:{web_port}"
    os.environ.update(ERP_URL=erp_url)
    try:
        fresh_database()
        procs.start(
            "mock-erp",
            [str(BIN / "python"), "-m", "app.erp.mock"],
            {
                "MOCK_ERP_PORT": str(erp_port),
                "MOCK_ERP_DATABASE_URL": f"sqlite:///{logs / 'erp.sqlite'}",
                "MOCK_ERP_API_KEY": ERP_KEY,
            },
        )
        wait_for(f"{erp_url}/healthz")
        procs.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{web_port}",
                "wsgi:app",
            ],
        )
        wait_for(f"{web_url}/healthz")
        token, setup = prepare(erp_url, web_url)
        state = final_state()
        print(f"pipeline bench: clean invoices RECEIVED → {state}; logs in {logs}")
        if "throughput" not in args.skip:
            empty = empty_job_rate(procs, args.documents)
            documents = throughput(procs, web_url, token, setup, args.documents)
            print(
                f"throughput, 2 workers: {documents:7.1f} documents/s  "
                f"empty RQ jobs {empty:7.1f}/s  ratio {documents / empty:.2f} (goal ≥ 1.0)"
            )
        if "latency" not in args.skip:
            p50, p99, achieved = latency(
                procs, web_url, token, setup, rate=args.rate, seconds=args.seconds
            )
            print(
                f"latency at {achieved:.1f} documents/s for {args.seconds:.0f} s, 202 → {state}: "
                f"median {p50 * 1000:.0f} ms  p99 {p99 * 1000:.0f} ms (goal p99 < 1000 ms)"
            )
        if "memory" not in args.skip:
            after_first, after_all = memory(procs, web_url, token, setup, args.memory_documents)
            print(
                f"worker memory: {after_first / 1024:.1f} MiB after {args.memory_documents // 10}"
                f" documents, {after_all / 1024:.1f} MiB after {args.memory_documents}"
                f"  growth {(after_all / after_first - 1) * 100:+.1f}% (goal within 10%)"
            )
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
