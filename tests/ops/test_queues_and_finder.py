"""Queues as RQ's registries say, the page still answering with Redis down, and any document
found by id, invoice number or correlation id with its timeline and jobs."""

from __future__ import annotations

import datetime as dt

import pytest
from redis import Redis
from rq import Queue, SimpleWorker, Worker

from app.db import utcnow
from app.documents.models import DocumentState
from app.jobs import redis_connection
from app.pipeline import NORMALIZE, VALIDATE
from tests.factories.documents import DocumentFactory

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
    assert "erp.call" in page
    assert invoice.correlation_id in page


def test_an_unknown_document_is_404(ops_client):
    assert ops_client.get("/ops/documents/2147483000").status_code == 404
