"""A worker runs a document's consecutive stages in one job: normalize makes validate due, and
validate runs next in the same worker, without a round trip through Redis."""

from __future__ import annotations

from unittest import mock

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.db import db
from app.documents.models import DocumentState, OutboxEntry
from app.jobs import QUEUE_NAMES, redis_connection
from app.matching import services as matching
from app.pipeline import VALIDATE
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import invoice_for, lakeside, received_po, send

__all__ = ["lakeside"]  # the fixture, imported so pytest finds it here


def queued() -> int:
    return sum(Queue(name, connection=redis_connection()).count for name in QUEUE_NAMES)


def open_entries(document_id: int) -> list[str]:
    query = select(OutboxEntry.command).where(
        OutboxEntry.document_id == document_id, OutboxEntry.completed_at.is_(None)
    )
    return list(db.session.scalars(query))


def test_normalize_and_validate_run_in_one_job(client, lakeside, portal_erp):
    document_id = send(client, lakeside, invoice_for(lakeside, received_po(portal_erp), "CH-1"))
    assert queued() == 1  # normalize

    run_jobs()
    assert document(document_id).state is DocumentState.VALIDATED
    assert not Job.exists(VALIDATE.job_id(document_id), connection=redis_connection()), (
        "validate went through Redis instead of running next in the same worker"
    )
    assert "validate" not in open_entries(document_id)


def test_without_chaining_each_stage_is_a_job_of_its_own(app, client, lakeside, portal_erp):
    app.config["PIPELINE_CHAIN_STAGES"] = False
    try:
        document_id = send(client, lakeside, invoice_for(lakeside, received_po(portal_erp), "CH-2"))
        run_jobs()
    finally:
        app.config["PIPELINE_CHAIN_STAGES"] = True
    assert document(document_id).state is DocumentState.VALIDATED
    # run_jobs' burst worker ran normalize, then the validate job it found queued after it.
    assert Job.exists(VALIDATE.job_id(document_id), connection=redis_connection())
    assert "validate" not in open_entries(document_id)


def test_a_chained_stage_that_fails_goes_to_the_queue_with_its_retries(
    client, lakeside, portal_erp
):
    document_id = send(client, lakeside, invoice_for(lakeside, received_po(portal_erp), "CH-3"))
    with mock.patch.object(matching, "validate", side_effect=RuntimeError("ERP went away")):
        run_jobs()  # normalize, the chained validate fails, then its queued job fails once

    assert document(document_id).state is DocumentState.NORMALIZED
    assert open_entries(document_id) == ["validate"]
    job = Job.fetch(VALIDATE.job_id(document_id), connection=redis_connection())
    assert job.get_status() == JobStatus.SCHEDULED  # RQ retries it on the step's schedule
    assert job.retries_left == len(VALIDATE.retry_intervals) - 1
