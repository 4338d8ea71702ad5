"""One correlation id followed through the JSON logs: the API request that accepted an
invoice, the jobs that normalized and validated it, and the ERP calls validation made."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from app import jobs, logs
from app.erp import client as erp_client
from app.webhooks import delivery, tasks
from tests.intake.helpers import run_jobs
from tests.matching.test_validate import invoice_for, lakeside, received_po, send  # noqa: F401

TRACE = "ops-trace-0001"


@pytest.fixture
def json_logs(monkeypatch):
    """Production's JSON logging (`logs.configure`), its one handler writing to a buffer for
    this test only; answers the lines written since it was last asked."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("json", "INFO")
    structlog.configure(cache_logger_on_first_use=False)
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    # A module's logger is cached on first use with the configuration of that moment (an
    # earlier test's, say): give the modules on the path loggers made under this one.
    # Alembic's fileConfig (a migration run in this process) disables every logger that exists
    # at that moment: enable them again.
    for module, name in (
        (logs, "portal"),
        (jobs, jobs.__name__),
        (erp_client, "erp.client"),
        (delivery, delivery.__name__),
        (tasks, tasks.__name__),
    ):
        monkeypatch.setattr(module, "log", structlog.get_logger(name))
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)

    def lines() -> list[dict]:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_one_id_from_request_to_jobs_to_erp_calls(client, lakeside, portal_erp, json_logs):  # noqa: F811
    body = invoice_for(lakeside, received_po(portal_erp), "TRACE-1")
    json_logs()  # the test's own look-up of a PO is no part of the path
    client.environ_base["HTTP_X_CORRELATION_ID"] = TRACE
    document_id = send(client, lakeside, body)
    run_jobs()
    lines = json_logs()
    requests = [ln for ln in lines if ln["event"] == "request"]
    jobs = [ln for ln in lines if ln["event"].startswith("job.")]
    erp_calls = [ln for ln in lines if ln["event"] == "erp.call"]
    assert [(ln["endpoint"], ln["status"]) for ln in requests] == [
        ("partner_api.post_invoices", 202)
    ]
    assert {(ln["event"], ln["job_id"]) for ln in jobs} >= {
        ("job.started", f"normalize-{document_id}"),
        ("job.finished", f"normalize-{document_id}"),
        ("job.started", f"validate-{document_id}"),
        ("job.finished", f"validate-{document_id}"),
    }
    assert any("/api/purchase-orders/" in ln["path"] for ln in erp_calls), erp_calls
    # Every line the portal wrote meanwhile, not only these, carries the one id.
    assert {ln.get("correlation_id") for ln in lines} == {TRACE}
    assert all(ln.get("level") and ln.get("timestamp") for ln in lines)
