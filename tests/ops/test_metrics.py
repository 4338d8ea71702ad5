"""GET /metrics: who may read it, and that each family counts what happened."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from app.db import db, utcnow
from app.documents.models import DocumentState
from app.documents.transitions import transition
from app.erp import get_erp
from app.erp.client import endpoint_template
from app.erp.errors import ErpError
from app.jobs import redis_connection
from app.posting import breaker
from app.webhooks import services
from tests.factories.documents import DocumentFactory
from tests.intake.helpers import run_jobs
from tests.webhooks.conftest import endpoint_for, receiver  # noqa: F401

S = DocumentState


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when it is absent (a counter not yet incremented)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_non_ops_are_refused(clerk_client):
    assert clerk_client.get("/metrics").status_code == 403


def test_anonymous_outside_the_allowed_networks_is_refused(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOW_CIDRS", "10.0.0.0/8")
    assert client.get("/metrics").status_code == 403


def test_a_scraper_in_an_allowed_network_needs_no_sign_in(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOW_CIDRS", "10.0.0.0/8, 127.0.0.0/8")
    assert "portal_documents" in scrape(client)
    denied = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert denied.status_code == 403


def test_ops_read_documents_by_state_and_queue_depths(ops_client, app):
    DocumentFactory(timeline=[(S.RECEIVED, utcnow())])
    DocumentFactory(timeline=[(S.RECEIVED, utcnow()), (S.NORMALIZED, utcnow())])
    DocumentFactory(timeline=[(S.RECEIVED, utcnow()), (S.NORMALIZED, utcnow())])
    Queue("high", connection=redis_connection(app)).enqueue("math.floor", 1.5)
    text = scrape(ops_client)
    assert sample(text, "portal_documents", kind="invoice", state="NORMALIZED") == 2
    assert sample(text, "portal_documents", kind="invoice", state="RECEIVED") == 1
    assert sample(text, "portal_queue_jobs", queue="high", registry="queued") == 1
    assert sample(text, "portal_redis_up") == 1


def test_http_requests_are_counted_by_endpoint(ops_client):
    before = sample(scrape(ops_client), "portal_http_requests_total", endpoint="ops.healthz")
    for _ in range(3):
        ops_client.get("/healthz")
    text = scrape(ops_client)
    assert (
        sample(text, "portal_http_requests_total", endpoint="ops.healthz", status="200")
        == before + 3
    )
    assert sample(text, "portal_http_request_duration_seconds_count", endpoint="ops.healthz") >= 3


def test_time_in_stage_is_observed_when_a_transition_commits(ops_client):
    name = "portal_document_stage_seconds_count"
    before = sample(scrape(ops_client), name, state="NORMALIZED")
    document = DocumentFactory(timeline=[(S.RECEIVED, utcnow()), (S.NORMALIZED, utcnow())])
    transition(document, S.VALIDATED, "system", "checked")
    assert sample(scrape(ops_client), name, state="NORMALIZED") == before  # not committed yet
    db.session.commit()
    assert sample(scrape(ops_client), name, state="NORMALIZED") == before + 1


def test_a_rolled_back_transition_is_not_observed(ops_client):
    name = "portal_document_stage_seconds_count"
    before = sample(scrape(ops_client), name, state="NORMALIZED")
    document = DocumentFactory(timeline=[(S.RECEIVED, utcnow()), (S.NORMALIZED, utcnow())])
    savepoint = db.session.begin_nested()
    transition(document, S.VALIDATED, "system", "checked")
    savepoint.rollback()  # the unit of work failed after the transition
    db.session.commit()
    assert sample(scrape(ops_client), name, state="NORMALIZED") == before


def test_erp_calls_and_errors_by_endpoint(ops_client, portal_erp):
    text = scrape(ops_client)
    ok = sample(text, "portal_erp_calls_total", endpoint="/api/vendors/{id}", status="200")
    missing = sample(
        text, "portal_erp_errors_total", endpoint="/api/vendors/{id}", error="http_4xx"
    )
    get_erp().get_vendor("V1001")
    with pytest.raises(ErpError):
        get_erp().get_vendor("NO-SUCH-VENDOR")
    text = scrape(ops_client)
    assert (
        sample(text, "portal_erp_calls_total", endpoint="/api/vendors/{id}", status="200") == ok + 1
    )
    assert (
        sample(text, "portal_erp_errors_total", endpoint="/api/vendors/{id}", error="http_4xx")
        == missing + 1
    )


def test_an_erp_that_does_not_answer_counts_as_a_transport_error(ops_client):
    before = sample(
        scrape(ops_client), "portal_erp_calls_total", endpoint="/api/ping", status="none"
    )
    assert get_erp().ping() is False  # the tests' ERP address: nothing listens there
    text = scrape(ops_client)
    assert sample(text, "portal_erp_calls_total", endpoint="/api/ping", status="none") == before + 1
    assert (
        sample(text, "portal_erp_errors_total", endpoint="/api/ping", error="ConnectionError") >= 1
    )


def test_throttled_calls_are_counted_by_policy(ops_client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["throttling"], "token_per_ip", 2)
    name = "portal_throttled_calls_total"
    before = sample(scrape(ops_client), name, policy="token-ip")
    statuses = [
        ops_client.post("/oauth/token", environ_base={"REMOTE_ADDR": "198.51.100.99"}).status_code
        for _ in range(4)
    ]
    assert statuses.count(429) == 2, statuses
    assert sample(scrape(ops_client), name, policy="token-ip") == before + 2


def test_erp_endpoints_are_templates_not_numbers():
    assert endpoint_template("/api/purchase-orders/PO-1/receipts") == (
        "/api/purchase-orders/{id}/receipts"
    )
    assert endpoint_template("/api/ap-invoices/17") == "/api/ap-invoices/{id}"
    assert endpoint_template("/api/vendors") == "/api/vendors"


def test_the_erp_breaker_state_per_endpoint_is_read_at_scrape(ops_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "BREAKER_FAILURE_THRESHOLD", 2)
    name = "portal_erp_breaker_state"
    text = scrape(ops_client)
    for endpoint in breaker.ENDPOINTS:
        assert sample(text, name, endpoint=endpoint, state="closed", scope="shared") == 1
        assert sample(text, name, endpoint=endpoint, state="open", scope="shared") == 0
    for _ in range(2):
        breaker.record_failure("ap-invoices", "server_error: 500")
    text = scrape(ops_client)
    assert sample(text, name, endpoint="ap-invoices", state="open", scope="shared") == 1
    assert sample(text, name, endpoint="ap-invoices", state="closed", scope="shared") == 0
    assert sample(text, name, endpoint="payments", state="closed", scope="shared") == 1


def test_webhook_deliveries_are_counted_by_outcome_once_committed(ops_client, receiver):  # noqa: F811
    name = "portal_webhook_deliveries_total"
    text = scrape(ops_client)
    delivered = sample(text, name, event_type="webhook.test", outcome="delivered")
    retrying = sample(text, name, event_type="webhook.test", outcome="retrying")
    endpoint = endpoint_for(receiver)
    receiver.answer(500)
    services.ping(endpoint)
    db.session.commit()
    run_jobs()  # the first attempt gets a 500: it will be retried
    text = scrape(ops_client)
    assert sample(text, name, event_type="webhook.test", outcome="retrying") == retrying + 1
    assert sample(text, name, event_type="webhook.test", outcome="delivered") == delivered
    services.ping(endpoint)
    db.session.commit()
    run_jobs()
    assert (
        sample(scrape(ops_client), name, event_type="webhook.test", outcome="delivered")
        == delivered + 1
    )
