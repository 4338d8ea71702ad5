"""One correlation id from the API request that accepted an invoice, through its jobs and the
ERP calls they made, to the webhook deliveries the change owed: every attempt's log lines carry it, also when the delivery's job was lost and the
sweep sent it again (the id is kept on the delivery row)."""

from __future__ import annotations

from app.db import utcnow
from app.jobs import redis_connection
from app.webhooks import events, tasks
from tests.intake.helpers import run_jobs
from tests.matching.test_validate import invoice_for, lakeside, received_po, send  # noqa: F401
from tests.ops.test_logs import json_logs  # noqa: F401
from tests.webhooks.conftest import endpoint_for, receiver  # noqa: F401

TRACE = "ops-trace-0002"


def _attempts(lines: list[dict]) -> list[dict]:
    return [ln for ln in lines if ln["event"] == "webhook attempt"]


def test_the_webhook_deliveries_a_change_owed_carry_its_id(
    client,
    lakeside,  # noqa: F811
    portal_erp,
    receiver,  # noqa: F811
    json_logs,  # noqa: F811
):
    """The one id on each kind of line of one submission: the request, the stage jobs, the
    ERP calls validation made, the delivery jobs and their attempts."""
    endpoint_for(receiver, org=lakeside, events=("invoice.received", "invoice.validated"))
    body = invoice_for(lakeside, received_po(portal_erp), "TRACE-2")
    json_logs()
    client.environ_base["HTTP_X_CORRELATION_ID"] = TRACE
    document_id = send(client, lakeside, body)
    run_jobs()
    run_jobs()  # the deliveries owed by the jobs of the first run
    lines = json_logs()
    attempts = _attempts(lines)
    assert [(ln["status_code"], ln["outcome"]) for ln in attempts] == [
        (200, "delivered"),
        (200, "delivered"),
    ]
    delivery_jobs = {events.job_id(ln["message_id"]) for ln in attempts}
    path = {
        "request": [ln for ln in lines if ln["event"] == "request"],
        "stage jobs": [
            ln
            for ln in lines
            if ln["event"] in ("job.started", "job.finished")
            and ln["job_id"] in (f"normalize-{document_id}", f"validate-{document_id}")
        ],
        "erp calls": [ln for ln in lines if ln["event"] == "erp.call"],
        "delivery jobs": [
            ln
            for ln in lines
            if ln["event"] in ("job.started", "job.finished") and ln["job_id"] in delivery_jobs
        ],
        "attempts": attempts,
    }
    assert len(path["request"]) == 1
    assert len(path["stage jobs"]) == 4  # started and finished, normalize and validate
    assert any("/api/purchase-orders/" in ln["path"] for ln in path["erp calls"])
    assert len(path["delivery jobs"]) == 4  # started and finished, one job per delivery
    for kind, found in path.items():
        assert {ln.get("correlation_id") for ln in found} == {TRACE}, kind
    assert {ln.get("correlation_id") for ln in lines} == {TRACE}  # and every other line


def test_a_delivery_the_sweep_sends_again_keeps_the_id_of_the_change(
    client,
    lakeside,  # noqa: F811
    portal_erp,
    receiver,  # noqa: F811
    json_logs,  # noqa: F811
):
    endpoint_for(receiver, org=lakeside, events=("invoice.received",))
    body = invoice_for(lakeside, received_po(portal_erp), "TRACE-3")
    client.environ_base["HTTP_X_CORRELATION_ID"] = TRACE
    send(client, lakeside, body)
    redis_connection().flushdb()  # the delivery's job is lost with Redis's data
    json_logs()
    assert tasks.resend_due(utcnow() + tasks.LOST_AFTER * 2) == 1
    run_jobs()
    lines = json_logs()
    assert [ln["outcome"] for ln in _attempts(lines)] == ["delivered"]
    assert {ln.get("correlation_id") for ln in lines} == {TRACE}
