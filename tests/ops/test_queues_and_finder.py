"""Queues as RQ's registries say, the page still answering with Redis down, and any document
found by id, invoice number or correlation id with its timeline, jobs, posting attempts and
ERP calls."""

from __future__ import annotations

import datetime as dt

import pytest
from redis import Redis
from rq import Queue, SimpleWorker, Worker

from app.db import utcnow
from app.documents.models import DocumentState
from app.jobs import redis_connection
from app.orgs.roles import Role
from app.pipeline import NORMALIZE, VALIDATE
from app.posting import tasks
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.documents import DocumentFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import document
from tests.posting.conftest import run_erp_jobs, validated_invoice

S = DocumentState


@pytest.fixture
def busy_redis(app):
    """Two queued jobs on default, one failed on low, one worker registered."""
    connection = redis_connection(app)
    default = Queue("default", connection=connection)
    default.enqueue("math.floor", 1.5, job_id="queued-one")
    default.enqueue("math.floor", 2.5, job_id="queued-two")
    low = Queue("low", connection=connection)
    low.enqueue("math.sqrt", -1, job_id="fails-once")
    SimpleWorker([low], connection=connection).work(burst=True)
    worker = Worker([default], connection=connection, name="ops-test-worker")
    worker.register_birth()
    yield connection
    worker.register_death()


def test_queue_page_shows_depths_workers_and_failed_jobs(ops_client, busy_redis):
    page = ops_client.get("/ops/queues").get_data(as_text=True)
    assert '<tr data-queue="default"><td>default</td><td class="num">2</td>' in page
    assert "Workers (1 alive)" in page
    assert "ops-test-worker" in page
    assert "fails-once" in page
    assert "ValueError: math domain error" in page


@pytest.fixture
def redis_down(app, monkeypatch):
    """The portal's Redis client pointed at a port where nothing listens."""
    dead = Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", dead)
    return dead


def test_pages_say_redis_is_unavailable_instead_of_failing(ops_client, redis_down):
    DocumentFactory(timeline=[(S.RECEIVED, utcnow())])
    queues = ops_client.get("/ops/queues")
    assert queues.status_code == 200
    assert "Redis unavailable (ConnectionError)" in queues.get_data(as_text=True)
    console = ops_client.get("/ops")
    assert console.status_code == 200
    text = console.get_data(as_text=True)
    assert "Redis unavailable" in text
    assert 'id="stage-received"' in text
    redis = text.split('data-dependency="redis"')[1].split("</span>")[0]
    assert "badge-down" in redis


def test_a_document_is_found_by_id_number_or_correlation_id(ops_client):
    invoice = DocumentFactory(
        document_number="INV-2026-77",
        correlation_id="req-7f3a",
        timeline=[(S.RECEIVED, utcnow() - dt.timedelta(minutes=3)), (S.NORMALIZED, utcnow())],
    )
    trail = f"/ops/documents/{invoice.id}"
    for query in (str(invoice.id), "INV-2026-77", "req-7f3a", " INV-2026-77 "):
        response = ops_client.get("/ops/documents", query_string={"q": query})
        assert response.status_code == 302, query
        assert response.headers["Location"].endswith(trail)


def test_several_matches_are_listed_and_none_is_said(ops_client):
    first = DocumentFactory(document_number="DUP-1")
    second = DocumentFactory(document_number="DUP-1")
    page = ops_client.get("/ops/documents?q=DUP-1").get_data(as_text=True)
    assert f"/ops/documents/{first.id}" in page
    assert f"/ops/documents/{second.id}" in page
    nothing = ops_client.get("/ops/documents?q=NOPE").get_data(as_text=True)
    assert "No document has that id" in nothing


def test_the_trail_shows_timeline_and_each_pipeline_job_with_its_status(ops_client, app):
    invoice = DocumentFactory(
        timeline=[(S.RECEIVED, utcnow() - dt.timedelta(minutes=3)), (S.NORMALIZED, utcnow())]
    )
    connection = redis_connection(app)
    Queue("default", connection=connection).enqueue(
        "math.floor", 1.5, job_id=VALIDATE.job_id(invoice.id)
    )
    page = ops_client.get(f"/ops/documents/{invoice.id}").get_data(as_text=True)
    timeline = page.split('id="timeline"')[1].split("</table>")[0]
    assert timeline.index("RECEIVED") < timeline.index("NORMALIZED")
    jobs = page.split('id="jobs"')[1].split("</table>")[0]
    assert f"<td>{NORMALIZE.job_id(invoice.id)}</td><td>not in Redis</td>" in jobs
    assert f"<td>{VALIDATE.job_id(invoice.id)}</td><td>queued</td>" in jobs
    assert f'href="/ops/documents?q={invoice.correlation_id}"' in page
    assert invoice.correlation_id in page
    assert "No ERP call was made for this document" in page
    assert "No posting attempt" in page


def rows(page: str, table_id: str) -> list[str]:
    table = page.split(f'id="{table_id}"')[1].split("</table>", maxsplit=1)[0]
    return table.split("<tbody>")[1].split("</tr>")[:-1]


def test_the_trail_shows_each_erp_call_and_posting_attempt_of_a_posted_invoice(
    ops_client, app, portal_erp, monkeypatch
):
    """Validated and posted through the real mock ERP: the first post meets a 503, the retry
    books it. The trail lists every call (validation's reads, both posts with their attempt,
    status, time and key) and both attempts."""
    for name, value in {"POSTING_BACKOFF_BASE": 0.0, "POSTING_BACKOFF_CAP": 0.0}.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setitem(app.config, "BREAKER_FAILURE_THRESHOLD", 100)
    lakeside = OrganizationFactory(supplier=True, name="Lakeside", erp_vendor_number="V1001")
    document_id = validated_invoice(ops_client, lakeside, portal_erp.client())
    portal_erp.set_faults(unavailable=True, retry_after=1)
    assert run_erp_jobs() == 1  # answered 503: a retry is scheduled
    portal_erp.clear_faults()
    assert tasks.post(document_id) == "posted"
    invoice = document(document_id)
    assert invoice.state is S.POSTED

    page = ops_client.get(f"/ops/documents/{document_id}").get_data(as_text=True)
    attempts = rows(page, "attempts")
    assert len(attempts) == 2
    assert "badge-failed" in attempts[0]
    assert "The ERP answered 503" in attempts[0]
    assert "badge-posted" in attempts[1]
    assert f"<code>invoice-{document_id}</code>" in attempts[1]

    calls = rows(page, "erp-calls")
    validation = [row for row in calls if f"GET /api/purchase-orders/{invoice.po_number}" in row]
    assert validation, calls  # validation read the PO (no attempt: not a posting call)
    posts = [row for row in calls if "POST /api/ap-invoices" in row]
    assert len(posts) == 2
    first, second = posts
    assert '<td class="late">503</td>' in first
    assert '<td class="num">1</td>' in first
    assert "The ERP answered 503" in first
    assert "<td>201</td>" in second
    assert '<td class="num">2</td>' in second
    for row in posts:
        assert f"<code>invoice-{document_id}</code>" in row
        assert invoice.correlation_id in row
        assert " ms</td>" in row
    # Oldest first: validation's reads, then the two posts in order.
    assert calls.index(validation[0]) < calls.index(first) < calls.index(second)

    # Ops only: finance staff get no trail.
    UserFactory(email="clerk@hospital.example", role=Role.FINANCE_CLERK)
    clerk = app.test_client()
    login(clerk, "clerk@hospital.example", PASSWORD)
    assert clerk.get(f"/ops/documents/{document_id}").status_code == 403


def test_an_unknown_document_is_404(ops_client):
    assert ops_client.get("/ops/documents/2147483000").status_code == 404
