"""The finance queue at a million invoices: load them with their holds and reviews into a
PostgreSQL database of the bench's own (COPY), then time the queue's query function for the
common filters and sorts and report each one's median and p95.

    .venv/bin/python bench/queue_bench.py [--invoices 1000000] [--runs 40]

What is timed is `app.holds.queries.queue` (the page's rows: the filtered, sorted keyset query
plus the open codes, reviews and waiting questions of the 51 rows it returns) and
`counts_by_code` (the counts at the top of the page), each inside the app as the view calls
them; not the template or the KPI block. BENCH_DATABASE_URL (default
postgresql://127.0.0.1/bench_queue) is dropped and created afresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median, quantiles
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://127.0.0.1/bench_queue")
os.environ.update(APP_ENV="development", DATABASE_URL=DATABASE_URL, LOG_LEVEL="WARNING")
sys.path.insert(0, str(ROOT))

SUPPLIERS = 500
CLERKS = 12
FACILITIES = [f"FAC-{n:02d}" for n in range(1, 13)]
# Of a year's invoices, those ON_HOLD now (the backlog: recent exceptions not yet resolved),
# and those held once and since released (their holds stay in the table as history).
HELD_SHARE = 0.03
RELEASED_SHARE = 0.10
DONE_STATES = ["VALIDATED", "POSTED", "PAID", "PAID", "PAID"]
# Hold codes as often as a busy AP team sees them.
CODE_WEIGHTS = {
    "QTY_RECEIVED": 30,
    "PRICE": 22,
    "LINE_UNMATCHED": 10,
    "DUPLICATE": 8,
    "TAX_VARIANCE": 6,
    "TOTAL_MISMATCH": 5,
    "AMOUNT_ORDERED": 5,
    "QTY_ORDERED": 4,
    "PO_NOT_FOUND": 3,
    "BANK_DETAILS": 2,
    "DATE": 2,
    "COST_CENTER": 2,
    "SUPPLIER_MISMATCH": 1,
}
DAYS = 365


def fresh_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        name = parts.path.lstrip("/")
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def migrate() -> None:
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade", "heads"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(invoices: int, seed: int = 7) -> dict[str, int]:
    """Suppliers, clerks, one payload per thousand invoices, the invoices, their holds and
    the held ones' reviews; returns ids the cases use."""
    import psycopg

    rng = random.Random(seed)  # noqa: S311 - made-up data, not secrets
    now = dt.datetime.now(dt.UTC)
    url = DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        _copy(
            cursor,
            "organizations",
            ["name", "kind", "status", "created_at", "updated_at"],
            [(f"Supplier {n:04d}", "supplier", "ACTIVE", now, now) for n in range(SUPPLIERS)],
        )
        suppliers = [r[0] for r in cursor.execute("SELECT id FROM organizations ORDER BY id")]
        cursor.execute(
            "INSERT INTO organizations (name, kind, status, created_at, updated_at) "
            "VALUES ('Hospital', 'buyer', 'ACTIVE', now(), now()) RETURNING id"
        )
        buyer = cursor.fetchone()[0]
        _copy(
            cursor,
            "users",
            ["email", "name", "active", "created_at", "updated_at"],
            [(f"clerk{n}@hospital.example", f"Clerk {n}", True, now, now) for n in range(CLERKS)],
        )
        clerks = [r[0] for r in cursor.execute("SELECT id FROM users ORDER BY id")]
        _copy(
            cursor,
            "memberships",
            ["user_id", "organization_id", "role", "created_at", "updated_at"],
            [(c, buyer, "finance_clerk", now, now) for c in clerks],
        )
        payloads = max(1, invoices // 1000)
        _copy(
            cursor,
            "raw_payloads",
            ["sha256", "content_type", "size", "body", "channel", "sender_org_id", "received_at"],
            [
                (f"{n:064x}", "application/json", 2, b"{}", "api", suppliers[n % SUPPLIERS], now)
                for n in range(payloads)
            ],
        )
        first_payload = cursor.execute("SELECT min(id) FROM raw_payloads").fetchone()[0]
        codes, weights = list(CODE_WEIGHTS), list(CODE_WEIGHTS.values())

        held: list[tuple[int, dt.datetime]] = []
        released: list[int] = []  # positions in the load order; ids are read back below

        def documents():
            for n in range(invoices):
                supplier = suppliers[rng.randrange(SUPPLIERS)]
                created = now - dt.timedelta(seconds=rng.uniform(0, DAYS * 86400))
                draw = rng.random()
                state = "ON_HOLD" if draw < HELD_SHARE else rng.choice(DONE_STATES)
                if HELD_SHARE <= draw < HELD_SHARE + RELEASED_SHARE:
                    released.append(n)
                amount = round(min(rng.lognormvariate(7, 1.3), 5_000_000), 2)
                yield (
                    "invoice",
                    state,
                    first_payload + n % payloads,
                    n,
                    f"INV-{n}",
                    supplier,
                    supplier,
                    "json",
                    f"INV-{n}",
                    f"PO{100000 + n % 50000}",
                    "USD",
                    amount,
                    "[]",
                    created,
                    created,
                    rng.choice(FACILITIES),
                )

        _copy(
            cursor,
            "documents",
            [
                "kind",
                "state",
                "payload_id",
                "payload_index",
                "identity",
                "sender_org_id",
                "supplier_org_id",
                "source_format",
                "document_number",
                "po_number",
                "currency",
                "total_amount",
                "errors",
                "created_at",
                "updated_at",
                "facility_code",
            ],
            documents(),
        )
        for document_id, created in cursor.execute(
            "SELECT id, created_at FROM documents WHERE state = 'ON_HOLD'"
        ):
            held.append((document_id, created))
        first_id = cursor.execute("SELECT min(id) FROM documents").fetchone()[0]

        def holds():
            for document_id, created in held:
                for code in set(rng.choices(codes, weights, k=rng.choice((1, 1, 1, 2, 3)))):
                    yield (
                        document_id,
                        code,
                        "hold",
                        "OPEN",
                        "found",
                        "found",
                        "1",
                        "2",
                        round(rng.uniform(1, 50_000), 2),
                        created + dt.timedelta(minutes=5),
                    )
            for position in released:
                code = rng.choices(codes, weights)[0]
                yield (
                    first_id + position,
                    code,
                    "hold",
                    "RELEASED",
                    "found",
                    "found",
                    "1",
                    "2",
                    round(rng.uniform(1, 50_000), 2),
                    now - dt.timedelta(days=30),
                )

        _copy(
            cursor,
            "holds",
            [
                "document_id",
                "code",
                "severity",
                "status",
                "finance_message",
                "supplier_message",
                "expected",
                "actual",
                "amount_at_risk",
                "created_at",
            ],
            holds(),
        )

        def reviews():
            for document_id, created in held:
                held_at = created + dt.timedelta(minutes=5)
                assignee = rng.choice(clerks) if rng.random() < 0.4 else None
                yield (document_id, assignee, held_at, held_at + dt.timedelta(hours=48), 1)

        _copy(
            cursor,
            "invoice_reviews",
            ["document_id", "assignee_id", "held_at", "due_at", "version"],
            reviews(),
        )
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return {"supplier": suppliers[17], "clerk": clerks[3], "held": len(held)}


def loaded() -> dict[str, int]:
    import psycopg

    url = DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        suppliers = [
            r[0]
            for r in connection.execute(
                "SELECT id FROM organizations WHERE kind = 'supplier' ORDER BY id"
            )
        ]
        clerks = [r[0] for r in connection.execute("SELECT id FROM users ORDER BY id")]
        held = connection.execute(
            "SELECT count(*) FROM documents WHERE state = 'ON_HOLD'"
        ).fetchone()[0]
    return {"supplier": suppliers[17], "clerk": clerks[3], "held": held}


def cases(ids: dict[str, int]):
    from app.holds.queries import QueueFilters, Sla, Sort, View
    from app.matching.findings import HoldCode

    return {
        "held, newest first (the default)": QueueFilters(),
        "held, oldest first": QueueFilters(sort=Sort.OLDEST),
        "held, largest amount first": QueueFilters(sort=Sort.AMOUNT),
        "held, by supplier": QueueFilters(sort=Sort.SUPPLIER),
        "hold code PRICE": QueueFilters(code=HoldCode.PRICE),
        "hold code SUPPLIER_MISMATCH (rare)": QueueFilters(code=HoldCode.SUPPLIER_MISMATCH),
        "one supplier": QueueFilters(supplier_id=ids["supplier"]),
        "one facility": QueueFilters(facility="FAC-03"),
        "amount 10,000 to 50,000": QueueFilters(min_amount=10_000, max_amount=50_000),
        "older than 30 days": QueueFilters(min_age_days=30),
        "assigned to one clerk": QueueFilters(assignee_id=ids["clerk"]),
        "unassigned": QueueFilters(assignee_id=0),
        "SLA overdue": QueueFilters(sla=Sla.OVERDUE),
        "SLA due soon (few)": QueueFilters(sla=Sla.DUE_SOON),
        "every invoice, newest first": QueueFilters(view=View.ALL),
        "code PRICE + facility, largest first": QueueFilters(
            code=HoldCode.PRICE, facility="FAC-03", sort=Sort.AMOUNT
        ),
    }


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm the cache and the plan
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return median(times), quantiles(times, n=20, method="inclusive")[18]


def explained(filters) -> float:
    """PostgreSQL's own execution time of the page's main query (EXPLAIN ANALYZE), in ms: the
    database's share, apart from the round trips and Python around it."""
    from sqlalchemy import text

    from app.db import db
    from app.holds import queries

    statement = queries.queue_statement(filters, queries.PAGE_SIZE + 1)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = db.session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one()
    db.session.rollback()
    return plan[0]["Execution Time"]


def measure(ids: dict[str, int], runs: int) -> Iterator[tuple[str, float, float, float | None]]:
    from app import create_app
    from app.db import db
    from app.holds import queries

    app = create_app()
    with app.app_context():
        for name, filters in cases(ids).items():

            def page(filters=filters):
                rows = queries.queue(filters, queries.PAGE_SIZE + 1)
                db.session.rollback()  # a new request each time: nothing cached in the session
                return rows

            yield (name, *timed(page, runs), explained(filters))
            first = page()
            if len(first) > queries.PAGE_SIZE:  # the second page through the keyset cursor
                after = queries.cursor_of(first[queries.PAGE_SIZE - 1].document, filters.sort)
                second = queries.QueueFilters(**{**filters.__dict__, "after": after})
                yield (
                    "  … its second page",
                    *timed(lambda s=second: queries.queue(s, 51), runs),
                    explained(second),
                )
        yield ("counts per hold code (top of the page)", *timed(queries.counts_by_code, runs), None)
        yield from whole_pages(app, ids, runs)


PAGES = {
    "PAGE held, newest first": "",
    "PAGE hold code PRICE": "code=PRICE",
    "PAGE one facility, largest first": "facility=FAC-03&sort=amount",
    "PAGE SLA overdue, assigned to me": "sla=overdue&assignee=me",
    "PAGE every invoice": "view=all",
}


def whole_pages(
    app, ids: dict[str, int], runs: int
) -> Iterator[tuple[str, float, float, float | None]]:
    """The view itself, template and all, for a signed-in clerk (Flask-Login's per-request
    user set directly: sign-in is not what is measured). The KPI block reads the timeline,
    which this bench does not load, so its cost is not in these figures."""
    from flask import g

    from app.accounts.models import User
    from app.db import db

    view = app.view_functions["holds.queue"]
    for name, args in PAGES.items():

        def render(args=args):
            with app.test_request_context(f"/finance/holds?{args}"):
                g._login_user = db.session.get(User, ids["clerk"])
                html = view()
                assert "Held invoices" in html or "All invoices" in html
                db.session.remove()

        yield (name, *timed(render, max(5, runs // 3)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="measure the database loaded before")
    args = parser.parse_args()
    if args.reuse:
        ids = loaded()
    else:
        fresh_database()
        migrate()
        start = time.perf_counter()
        ids = load(args.invoices)
        print(
            f"loaded {args.invoices:,} invoices ({ids['held']:,} held, with holds and reviews) "
            f"in {time.perf_counter() - start:.0f} s (COPY, then VACUUM ANALYZE)",
            flush=True,
        )
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<44} {'median ms':>10} {'p95 ms':>8} {'in PG ms':>9}")
    for name, mid, p95, database in measure(ids, args.runs):
        in_pg = f"{database:>9.1f}" if database is not None else f"{'':>9}"
        print(f"{name:<44} {mid:>10.1f} {p95:>8.1f} {in_pg}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
