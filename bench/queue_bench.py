"""The finance queue at a million invoices: load them with their holds, reviews and timelines
into a PostgreSQL database of the bench's own (COPY, then one INSERT … SELECT for the
timelines), then time the queue's query function for the common filters and sorts, the KPI
block, and the whole page, and report each one's median and p95.

    .venv/bin/python bench/queue_bench.py [--invoices 1000000] [--runs 40] [--reuse]

What is timed: `app.holds.queries.queue` (the page's rows: the filtered, sorted keyset query
plus the open codes, reviews and waiting questions of the 51 rows it returns),
`counts_by_code` (the counts at the top of the page), `kpi_report` (first-pass and exception
rates, cycle-time percentiles and holds by code, in all, per day and per supplier, over the
last 30 days' timelines), and the views themselves, template and all. The baseline, measured
in the same run on the same data, is the KPI block as it was before it moved into SQL and off
the queue page: every verdict entry of the window read into Python (`baseline_kpi_report`),
alone and inside each page's request.
BENCH_DATABASE_URL (default postgresql://127.0.0.1/bench_queue) is dropped and created afresh
unless --reuse.
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
REJECTED_SHARE = 0.02  # sent back at the first check (unknown or inactive supplier, say)
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
                elif draw >= 1 - REJECTED_SHARE:
                    state = "REJECTED"
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
        timelines(cursor)
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return {"supplier": suppliers[17], "clerk": clerks[3], "held": len(held)}


# Each invoice's timeline, in the order transition() writes it: received, normalized (2 s
# later), its first verdict after up to 10 minutes (rejected, held, or validated); a hold
# released between 1 and 72 hours later goes on to VALIDATED; posted and paid ones go on. The
# queue page's KPIs read these entries (first verdicts, received → validated).
TIMELINES = """
CREATE TEMP TABLE timing AS
SELECT d.id, d.created_at AS r, d.state,
       make_interval(secs => 5 + floor(random() * 600)) AS v,
       CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.document_id = d.id AND h.status = 'RELEASED')
            THEN make_interval(secs => 3600 + floor(random() * 71 * 3600)) END AS w
FROM documents d;
INSERT INTO document_events (document_id, at, from_state, to_state, actor_label, reason)
SELECT t.id, least(e.at, now()), e.from_state, e.to_state, 'system', ''
FROM timing t, LATERAL (VALUES
  (t.r, NULL, 'RECEIVED', true),
  (t.r + interval '2 s', 'RECEIVED', 'NORMALIZED', true),
  (t.r + t.v, 'NORMALIZED', 'REJECTED', t.state = 'REJECTED'),
  (t.r + t.v, 'NORMALIZED', 'ON_HOLD', t.state = 'ON_HOLD' OR t.w IS NOT NULL),
  (t.r + t.v, 'NORMALIZED', 'VALIDATED', t.state IN ('VALIDATED', 'POSTED', 'PAID') AND t.w IS NULL),
  (t.r + t.v + t.w, 'ON_HOLD', 'VALIDATED', t.w IS NOT NULL),
  (t.r + t.v + coalesce(t.w, interval '0') + interval '1 min', 'VALIDATED', 'POSTING',
   t.state IN ('POSTED', 'PAID')),
  (t.r + t.v + coalesce(t.w, interval '0') + interval '2 min', 'POSTING', 'POSTED',
   t.state IN ('POSTED', 'PAID')),
  (t.r + t.v + coalesce(t.w, interval '0') + interval '30 days', 'POSTED', 'PAID',
   t.state = 'PAID')
) AS e(at, from_state, to_state, applies)
WHERE e.applies;
DROP TABLE timing;
"""


def timelines(cursor) -> None:
    cursor.execute("SELECT setseed(0.7)")
    for statement in TIMELINES.split(";"):
        if statement.strip():
            cursor.execute(statement)


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
        yield from kpi_blocks(runs)
        yield from whole_pages(app, ids, runs)


def kpi_blocks(runs: int) -> Iterator[tuple[str, float, float, float | None]]:
    from app.db import db, utcnow
    from app.holds import queries

    def kpis(report=queries.kpi_report):
        figures = report(utcnow() - dt.timedelta(days=30))
        db.session.rollback()
        return figures

    new, old = kpis(), kpis(baseline_kpi_report)
    checked = new.overall.checked
    print(
        f"KPIs over 30 days: {checked:,} invoices checked, first pass "
        f"{new.overall.first_pass_rate:.1%}, exceptions {new.overall.exception_rate:.1%}, "
        f"median {new.overall.median_hours:.2f} h, p90 {new.overall.p90_hours:.2f} h; "
        f"the baseline reads {old.overall.checked:,} (it leaves out the rejected ones)",
        flush=True,
    )
    yield ("KPIs in SQL (percentile_cont, grouping sets)", *timed(kpis, max(5, runs // 4)), None)
    yield (
        "KPIs baseline (events read into Python)",
        *timed(lambda: kpis(baseline_kpi_report), max(5, runs // 4)),
        None,
    )


def baseline_kpi_report(since: dt.datetime, supplier_id: int | None = None):
    """The KPI block before this change (app.holds.queries at 5b7156c), for comparison: every
    VALIDATED/ON_HOLD entry of the window's invoices read into Python and reduced there."""
    from sqlalchemy import select

    from app.db import db
    from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
    from app.holds.queries import KpiReport, Kpis, percentile

    query = (
        select(
            DocumentEvent.document_id,
            DocumentEvent.to_state,
            DocumentEvent.at,
            Document.created_at,
            Document.supplier_org_id,
        )
        .join(Document, Document.id == DocumentEvent.document_id)
        .where(
            Document.kind == DocumentKind.INVOICE,
            Document.created_at >= since,
            DocumentEvent.to_state.in_((DocumentState.VALIDATED, DocumentState.ON_HOLD)),
        )
        .order_by(DocumentEvent.id)
    )
    if supplier_id is not None:
        query = query.where(Document.supplier_org_id == supplier_id)
    first: dict = {}
    hours: dict = {}
    for document_id, state, at, received, supplier in db.session.execute(query):
        first.setdefault(document_id, (state, received, supplier))
        if state == DocumentState.VALIDATED and document_id not in hours:
            hours[document_id] = (at - received).total_seconds() / 3600

    def summary(items) -> Kpis:
        states = [state for _, (state, _, _) in items]
        ordered = sorted(hours[d] for d, _ in items if d in hours)
        return Kpis(
            checked=len(states),
            first_pass=states.count(DocumentState.VALIDATED),
            held=states.count(DocumentState.ON_HOLD),
            median_hours=percentile(ordered, 0.5),
            p90_hours=percentile(ordered, 0.9),
        )

    days: dict = {}
    suppliers: dict = {}
    for item in first.items():
        days.setdefault(item[1][1].date(), []).append(item)
        suppliers.setdefault(item[1][2], []).append(item)
    return KpiReport(
        summary(list(first.items())),
        [(day, summary(days[day])) for day in sorted(days, reverse=True)],
        [
            (key, summary(group))
            for key, group in sorted(suppliers.items(), key=lambda i: -len(i[1]))
        ],
    )


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
    user set directly: sign-in is not what is measured). The queue page no longer computes
    the KPIs (the browser loads them from /finance/holds/kpis after the rows), so each page is
    also timed as the baseline served it: the same request plus the former KPI block (every
    verdict entry of 30 days read into Python); then the KPI block's own URL."""
    from flask import g

    from app.accounts.models import User
    from app.db import db, utcnow

    def render(endpoint: str, args: str, baseline: bool = False) -> None:
        with app.test_request_context(f"{endpoint}?{args}"):
            g._login_user = db.session.get(User, ids["clerk"])
            html = app.view_functions[app.url_map.bind("localhost").match(endpoint)[0]]()
            assert "<h" in html
            if baseline:
                baseline_kpi_report(utcnow() - dt.timedelta(days=30))
            db.session.remove()

    page_runs = max(5, runs // 3)
    for name, args in PAGES.items():
        yield (name, *timed(lambda a=args: render("/finance/holds", a), page_runs), None)
    for name, args in PAGES.items():
        yield (
            f"{name} (baseline: KPIs inline)",
            # Fewer runs: each costs seconds at a million.
            *timed(lambda a=args: render("/finance/holds", a, baseline=True), max(5, runs // 6)),
            None,
        )
    yield (
        "KPI block (/finance/holds/kpis?fragment=1)",
        *timed(lambda: render("/finance/holds/kpis", "fragment=1"), max(5, runs // 4)),
        None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="measure the database loaded before")
    parser.add_argument("--load-only", action="store_true", help="load, then stop (measure later)")
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
        if args.load_only:
            return
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<58} {'median ms':>10} {'p95 ms':>8} {'in PG ms':>9}")
    for name, mid, p95, database in measure(ids, args.runs):
        in_pg = f"{database:>9.1f}" if database is not None else f"{'':>9}"
        print(f"{name:<58} {mid:>10.1f} {p95:>8.1f} {in_pg}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
