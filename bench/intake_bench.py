"""Intake throughput against a bare Flask endpoint under the same gunicorn settings, then the
normalization rate of one worker for each format, in one run.

    .venv/bin/python bench/intake_bench.py [--seconds 10] [--workers 5] [--clients 8]
                                           [--documents 200] [--rounds 3]

The intake figure is the whole path of POST /api/v1/invoices: token check, throttling (on a
tier wide enough never to refuse), Idempotency-Key (a new key per request), storage of the raw
payload, document, timeline and outbox row in one transaction, the documents quota, and the
enqueue. The bare endpoint reads the same body and answers the same 202, with nothing else.
Two floors run beside them: the four things written by hand on the portal's own parts, and
written by hand on the bare drivers (psycopg, redis-py, joserfc, RQ) with nothing of the portal.

It needs PostgreSQL and Redis of its own: BENCH_DATABASE_URL (default
postgresql://127.0.0.1/bench_intake, dropped and created afresh) and BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13, flushed).

The normalization part reads UBL, cXML and X12 examples from the public sample corpus in place
(PORTAL_SAMPLES_DIR, by default shared/samples beside the clone's folder); without it, it says
so in one line and measures the repository's own samples of those formats instead.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1/bench_intake")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
SAMPLES = Path(os.environ.get("PORTAL_SAMPLES_DIR") or ROOT.parent / "shared" / "samples")
LOCAL_SAMPLES = ROOT / "tests" / "formats" / "samples"
BARE_PORT, PORTAL_PORT, PORTAL_PARTS_PORT, DRIVERS_PORT = 5791, 5792, 5793, 5794
WARM_UP_SECONDS = 1.0

# The app reads its configuration from the environment when first imported.
os.environ.update(
    APP_ENV="development",
    DATABASE_URL=DATABASE_URL,
    REDIS_URL=REDIS_URL,
    LOG_LEVEL="WARNING",
    QUEUE_BACKEND="redis",
)
sys.path.insert(0, str(ROOT))

INVOICE = (
    b'{"invoice_number": "B-1", "issue_date": "2026-01-05", "currency": "USD",'
    b' "supplier": {"name": "Bench Medical"}, "po_number": "PO-1",'
    b' "lines": [{"line_id": "1", "description": "Gauze", "quantity": "10", "unit_code": "EA",'
    b' "unit_price": "2.50", "line_extension_amount": "25.00", "po_line": "1"}],'
    b' "totals": {"line_total": "25.00", "tax_total": "0", "payable": "25.00"}}'
)
CSV_ONE = (
    b"invoice_number,issue_date,currency,supplier_name,line_id,description,quantity,unit_price,"
    b"line_amount,payable_amount\nC-1,2026-01-05,USD,Bench Medical,1,Gauze,10,2.50,25.00,25.00\n"
)
BARE_APP = """
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/bare")
def bare():
    body = request.get_data()
    return jsonify({"documents": [{"id": 1, "state": "RECEIVED", "size": len(body)}]}), 202
"""

# Two floors. The first is the four things written by hand on the portal's own parts
# (create_app, require_token with throttling, the ORM session); the second is the same four
# things on the bare drivers (psycopg, redis-py, joserfc, RQ) with nothing of the portal at
# all: the least any implementation of the path could cost on this machine. Neither parses,
# keeps a timeline or stores an answer to replay.
PORTAL_PARTS_APP = """
import hashlib

from flask import jsonify, request
from sqlalchemy import text

from app import create_app
from app.db import db
from app.extensions import csrf
from app.jobs import queue
from app.oauth.resource import current_client, require_token

app = create_app()


@app.post("/minimal")
@csrf.exempt
@require_token("invoices:write")
def minimal():
    client, body = current_client(), request.get_data()
    digest = hashlib.sha256(body).hexdigest()
    key = request.headers["Idempotency-Key"]
    taken = db.session.execute(
        text("INSERT INTO idempotency_keys (client_id, key, request_hash, response_status,"
             " response_body, response_headers, created_at, expires_at) VALUES (:c, :k, :h, 202,"
             " '{}', '{}', now(), now() + interval '1 day') ON CONFLICT DO NOTHING RETURNING id"),
        {"c": client.id, "k": key, "h": digest},
    ).first()
    if taken is None:
        return jsonify({"replay": True}), 409
    payload_id = db.session.execute(
        text("INSERT INTO raw_payloads (sha256, content_type, size, body, channel, sender_org_id,"
             " received_at) VALUES (:h, 'application/json', :s, :b, 'api', :o, now()) RETURNING id"),
        {"h": digest, "s": len(body), "b": body, "o": client.organization_id},
    ).scalar()
    document_id = db.session.execute(
        text("INSERT INTO documents (kind, state, payload_id, payload_index, identity,"
             " sender_org_id, source_format, errors, created_at, updated_at) VALUES ('invoice',"
             " 'RECEIVED', :p, 0, '$', :o, 'json', '[]', now(), now()) RETURNING id"),
        {"p": payload_id, "o": client.organization_id},
    ).scalar()
    db.session.commit()
    queue("low").enqueue("builtins.print", document_id, job_id=f"minimal-{document_id}")
    return jsonify({"documents": [{"id": document_id, "state": "RECEIVED"}]}), 202
"""

DRIVERS_APP = """
import hashlib
import os
import threading
import time

import psycopg
from flask import Flask, jsonify, request
from joserfc import jws, jwt
from joserfc.jwk import ECKey
from redis import Redis
from rq import Queue

app = Flask(__name__)
local = threading.local()  # a connection of its own per thread (gthread workers)


def connections():
    state = local.__dict__
    if not state:
        state["db"] = psycopg.connect(os.environ["DATABASE_URL"].replace("+psycopg", ""))
        state["redis"] = Redis.from_url(os.environ["REDIS_URL"])
        state["keys"] = {
            kid: ECKey.import_key(jwk)
            for kid, jwk in state["db"].execute("SELECT kid, public_jwk FROM oauth_signing_keys")
        }
        state["db"].commit()
    return state["db"], state["redis"], state["keys"]


@app.post("/minimal")
def minimal():
    conn, redis, keys = connections()
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        kid = jws.extract_compact(token.encode()).headers()["kid"]
        claims = jwt.decode(token, keys[kid], algorithms=["ES256"]).claims
    except Exception:
        return jsonify({"error": "invalid_token"}), 401
    if claims["exp"] < time.time() or "invoices:write" not in claims["scope"].split():
        return jsonify({"error": "invalid_token"}), 401
    window = f"minimal:rate:{claims['client_id']}:{int(time.time() // 60)}"
    denied, calls, _ = (
        redis.pipeline().exists(f"oauth:revoked:{claims['jti']}").incr(window).expire(window, 120)
        .execute()
    )
    if denied or calls > 10_000_000:
        return jsonify({"error": "refused"}), 429
    body = request.get_data()
    digest = hashlib.sha256(body).hexdigest()
    client_id, org_id = conn.execute(
        "SELECT id, organization_id FROM api_clients WHERE client_id = %s AND revoked_at IS NULL",
        (claims["client_id"],),
    ).fetchone()
    taken = conn.execute(
        "INSERT INTO idempotency_keys (client_id, key, request_hash, response_status,"
        " response_body, response_headers, created_at, expires_at) VALUES (%s, %s, %s, 202,"
        " '{}', '{}', now(), now() + interval '1 day') ON CONFLICT DO NOTHING RETURNING id",
        (client_id, request.headers["Idempotency-Key"], digest),
    ).fetchone()
    if taken is None:
        conn.rollback()
        return jsonify({"replay": True}), 409
    (document_id,) = conn.execute(
        "WITH p AS (INSERT INTO raw_payloads (sha256, content_type, size, body, channel,"
        " sender_org_id, received_at) VALUES (%s, 'application/json', %s, %s, 'api', %s, now())"
        " RETURNING id) INSERT INTO documents (kind, state, payload_id, payload_index, identity,"
        " sender_org_id, source_format, errors, created_at, updated_at) SELECT 'invoice',"
        " 'RECEIVED', p.id, 0, '$', %s, 'json', '[]', now(), now() FROM p RETURNING id",
        (digest, len(body), body, org_id, org_id),
    ).fetchone()
    conn.commit()
    Queue("low", connection=redis).enqueue("builtins.print", document_id,
                                           job_id=f"minimal-{document_id}")
    return jsonify({"documents": [{"id": document_id, "state": "RECEIVED"}]}), 202
"""

# -- set-up ------------------------------------------------------------------------------------


def fresh_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def migrate() -> None:
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade", "heads"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def prepare_client() -> dict[int, str]:
    """An active supplier on an unlimited tier, its client, and a token for each server (the
    token's issuer is the URL it is presented to)."""
    from bench_setup import unthrottled_supplier

    from app import create_app
    from app.db import db, unit_of_work
    from app.jobs import redis_connection
    from app.oauth import scopes, services
    from app.oauth.tokens import issue_access_token

    app = create_app()
    with app.app_context():
        redis_connection().flushdb()
        with unit_of_work():
            org = unthrottled_supplier("Bench Medical", scopes.SCOPES)
            client, _ = services.create_client(org, "bench", ["invoices:write"])
        tokens = {}
        for port in (PORTAL_PARTS_PORT, PORTAL_PORT, DRIVERS_PORT):
            with app.test_request_context(base_url=f"http://127.0.0.1:{port}"):
                tokens[port] = issue_access_token(client, ["invoices:write"])
                db.session.commit()  # the signing key made for the first token
    return tokens


def start_gunicorn(
    app_path: str, port: int, workers: int, cwd: Path, threads: int = 1
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            BIN / "gunicorn",
            "--workers", str(workers),
            "--worker-class", "gthread" if threads > 1 else "sync",
            "--threads", str(threads),
            "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
            "--backlog", "2048",
            app_path,
        ],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def wait_until_up(port: int, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
        except OSError:
            time.sleep(0.2)
        else:
            return
    raise SystemExit(f"nothing answered on port {port}")


# -- load --------------------------------------------------------------------------------------


def _client_loop(
    args: tuple[int, str, dict[str, str], float, float],
) -> tuple[int, int, list[float]]:
    port, path, headers, start_at, stop_at = args
    ok = failed = 0
    latencies: list[float] = []
    while time.time() < stop_at:
        began = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        key = uuid.uuid4().hex
        # A new invoice number each time: intake refuses the same bytes sent twice (409).
        body = INVOICE.replace(b'"B-1"', f'"B-{key}"'.encode())
        connection.request("POST", path, body, {**headers, "Idempotency-Key": key})
        status = connection.getresponse().status
        connection.close()
        if time.time() < start_at:  # warming up
            continue
        latencies.append(time.perf_counter() - began)
        ok, failed = (ok + 1, failed) if status == 202 else (ok, failed + 1)
    return ok, failed, latencies


Target = tuple[int, str, dict[str, str]]  # port, path, headers


@dataclass
class Tally:
    """What one endpoint did over all its rounds."""

    seconds: float = 0.0
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        cuts = quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0.0] * 99
        rps = self.ok / self.seconds if self.seconds else 0.0
        return {"rps": rps, "failed": self.failed, "p50": cuts[49], "p99": cuts[98]}


def load(tally: Tally, target: Target, clients: int, seconds: float) -> None:
    port, path, headers = target
    start_at = time.time() + WARM_UP_SECONDS
    stop_at = start_at + seconds
    jobs = [(port, path, headers, start_at, stop_at)] * clients
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_client_loop, jobs)
    tally.seconds += seconds
    tally.ok += sum(r[0] for r in results)
    tally.failed += sum(r[1] for r in results)
    tally.latencies += [latency for r in results for latency in r[2]]


# -- normalization -----------------------------------------------------------------------------


def format_cases() -> list[tuple[str, bytes, str, str]]:
    """One case per format; the public corpus's examples when it is there, else our own."""
    return [
        ("json", INVOICE, "application/json", "invoice"),
        *(public_cases() if SAMPLES.is_dir() else local_cases()),
        ("csv", CSV_ONE, "text/csv", "invoice"),
        ("x12 855", (LOCAL_SAMPLES / "x12_855_ack_crlf_bom.txt").read_bytes(), "application/edi-x12", "acknowledgment"),
    ]  # fmt: skip


def public_cases() -> list[tuple[str, bytes, str, str]]:
    return [
        ("ubl", (SAMPLES / "ubl/base-example.xml").read_bytes(), "application/xml", "invoice"),
        ("cxml", (SAMPLES / "cxml/invoice_taxes_at_line.xml").read_bytes(), "text/xml", "invoice"),
        ("x12", (SAMPLES / "x12/Example5_Walmart.txt").read_bytes(), "application/edi-x12", "invoice"),
        ("ubl ack", (SAMPLES / "peppol-order-response/UC1_Order_response.xml").read_bytes(), "application/xml", "acknowledgment"),
    ]  # fmt: skip


def local_cases() -> list[tuple[str, bytes, str, str]]:
    """Our own samples of the same formats (no UBL among them), for a clone without the corpus."""
    return [
        ("cxml", (LOCAL_SAMPLES / "cxml_credit_memo.xml").read_bytes(), "text/xml", "invoice"),
        ("x12", (LOCAL_SAMPLES / "x12_810_005010_pipes.txt").read_bytes(), "application/edi-x12", "invoice"),
        ("cxml ack", (LOCAL_SAMPLES / "cxml_confirmation_accept.xml").read_bytes(), "application/xml", "acknowledgment"),
    ]  # fmt: skip


def receive_many(app, body: bytes, content_type: str, kind: str, count: int) -> None:
    from flask import g
    from sqlalchemy import select

    from app.db import db, unit_of_work
    from app.documents.models import Channel, DocumentKind
    from app.formats import split
    from app.intake import services
    from app.orgs.models import Organization

    with app.app_context():
        org = db.session.scalar(select(Organization).where(Organization.name == "Bench Medical"))
        for _ in range(count):
            with app.test_request_context(), unit_of_work():
                g.correlation_id = "bench"  # what the request hook binds from X-Correlation-ID
                submission = services.Submission(
                    DocumentKind(kind), body, content_type, org, Channel.API, correlation_id="bench"
                )
                # Stored as intake stores it, without intake's refusal of the same bytes sent
                # twice: this part measures normalization, one sample many times.
                found = split(body, content_type, kind)
                services.receive(submission, found, [org] * len(found.documents), "bench")


def drain(worker_class) -> tuple[int, float]:
    from redis import Redis
    from rq import Queue

    from app.jobs import QUEUE_NAMES

    connection = Redis.from_url(REDIS_URL)
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    jobs = queues[1].count
    started = time.perf_counter()
    worker_class(queues, connection=connection).work(burst=True)
    return jobs, time.perf_counter() - started


def normalization_rates(documents: int) -> list[tuple[str, float, float]]:
    import logging

    from redis import Redis
    from rq import SimpleWorker, Worker

    from app import create_app, pipeline

    logging.getLogger("rq.worker").setLevel(logging.WARNING)
    # Normalization alone: in this process a normalized document goes no further (validation
    # and posting would call the ERP; bench/pipeline_bench.py measures the whole pipeline).
    pipeline.FLOW = {**pipeline.FLOW, "document.normalized": ()}
    app = create_app(overrides={"PIPELINE_CHAIN_STAGES": False})
    rates = []
    for name, body, content_type, kind in format_cases():
        Redis.from_url(REDIS_URL).flushdb()
        receive_many(app, body, content_type, kind, documents)
        # Inside an app context, as `flask --app wsgi worker` runs its workers.
        with app.app_context():
            jobs, elapsed = drain(SimpleWorker)
        simple = jobs / elapsed
        receive_many(app, body, content_type, kind, documents // 4)
        with app.app_context():
            jobs, elapsed = drain(Worker)
        rates.append((name, simple, jobs / elapsed))
    return rates


# -- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="above 1: gthread workers (the Dockerfile runs 2 x 4)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per endpoint")
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        print(
            f"public sample corpus not found at {SAMPLES} (set PORTAL_SAMPLES_DIR); "
            "normalization is measured on the repository's own samples, without UBL"
        )

    fresh_database()
    migrate()
    tokens = prepare_client()
    json_type = {"Content-Type": "application/json"}
    with_token = {port: {**json_type, "Authorization": f"Bearer {tokens[port]}"} for port in tokens}
    apps = {  # label: (module, its source or None for the portal, port, path, health path)
        "bare Flask POST": ("bare_app", BARE_APP, BARE_PORT, "/bare", "/"),
        "by hand on the drivers": ("drivers_app", DRIVERS_APP, DRIVERS_PORT, "/minimal", "/"),
        "by hand on portal parts": (
            "portal_parts_app",
            PORTAL_PARTS_APP,
            PORTAL_PARTS_PORT,
            "/minimal",
            "/healthz",
        ),
        "POST /api/v1/invoices": ("wsgi", None, PORTAL_PORT, "/api/v1/invoices", "/healthz"),
    }
    with tempfile.TemporaryDirectory() as folder:
        servers = []
        for module, source, port, _, _ in apps.values():
            if source is not None:
                (Path(folder) / f"{module}.py").write_text(source)
            cwd = Path(folder) if source is not None else ROOT
            servers.append(start_gunicorn(f"{module}:app", port, args.workers, cwd, args.threads))
        try:
            for _, _, port, _, health in apps.values():
                wait_until_up(port, health)
            targets: dict[str, Target] = {
                label: (port, path, with_token.get(port, json_type))
                for label, (_, _, port, path, _) in apps.items()
            }
            tallies = {label: Tally() for label in targets}
            # Short interleaved rounds, so a change in the machine's load hits all alike.
            for _ in range(args.rounds):
                for label, target in targets.items():
                    load(tallies[label], target, args.clients, args.seconds / args.rounds)
            results = {label: tally.summary() for label, tally in tallies.items()}
        finally:
            for process in servers:
                process.terminate()
                process.wait(timeout=30)

    kind = f"gthread workers x {args.threads} threads" if args.threads > 1 else "sync workers"
    print(f"gunicorn: {args.workers} {kind}; {args.clients} client processes; "
          f"{args.seconds:.0f} s per endpoint in {args.rounds} interleaved rounds; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'endpoint':<28}{'req/s':>9}{'of bare':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-202':>9}")
    baseline = results["bare Flask POST"]["rps"] or 1.0
    for label, result in results.items():
        print(
            f"{label:<28}{result['rps']:>9.0f}{result['rps'] / baseline:>9.0%}"
            f"{result['p50'] * 1000:>9.1f}{result['p99'] * 1000:>9.1f}{result['failed']:>9}"
        )
    ratio = results["POST /api/v1/invoices"]["rps"] / baseline
    verdict = "meets" if ratio >= 0.25 else "MISSES"
    print(f"intake / bare = {ratio:.0%} ({verdict} the 25% goal)")
    floor = results["by hand on the drivers"]["rps"] or 1.0
    ratio = results["POST /api/v1/invoices"]["rps"] / floor
    verdict = "meets" if ratio >= 0.8 else "MISSES"
    print(f"intake / by hand on the drivers = {ratio:.0%} ({verdict} the 80% goal)")

    print(f"\nnormalization, one worker, {args.documents} documents per format")
    print(f"{'format':<10}{'docs/s in-process':>20}{'docs/s forking Worker':>24}")
    for name, simple, forking in normalization_rates(args.documents):
        print(f"{name:<10}{simple:>20.0f}{forking:>24.0f}")


if __name__ == "__main__":
    main()
