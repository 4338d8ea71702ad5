"""Find any document by id, invoice number or correlation id, and gather its trail: timeline,
the jobs the pipeline sends for it, its ERP calls and posting attempts, and the audit entries
it is the target of."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import Document, DocumentEvent, OutboxEntry
from app.ops import erp_calls
from app.ops.models import ErpCallRecord
from app.ops.queues import JobStatus, job_statuses
from app.pipeline import STEPS_BY_COMMAND
from app.posting.models import PostingAttempt

MAX_ID = 2**31 - 1
FOUND_SHOWN = 50


def find(query: str) -> list[Document]:
    """Documents whose id, invoice (document) number or correlation id is `query`."""
    query = query.strip()
    if not query:
        return []
    matches = [Document.document_number == query, Document.correlation_id == query]
    if query.isdigit() and 0 < int(query) <= MAX_ID:
        matches.append(Document.id == int(query))
    return list(
        db.session.scalars(
            select(Document).where(or_(*matches)).order_by(Document.id.desc()).limit(FOUND_SHOWN)
        )
    )


@dataclass(frozen=True)
class Trail:
    document: Document
    timeline: list[DocumentEvent]
    outbox: list[OutboxEntry]
    jobs: list[JobStatus]
    jobs_error: str
    audit: list[AuditEntry]
    erp_calls: list[ErpCallRecord]
    attempts: list[PostingAttempt]


def job_ids_of(document: Document, outbox: list[OutboxEntry]) -> list[str]:
    """Every job id the pipeline may have sent for it: the steps that apply to its kind (ids
    come from `Step.job_id`) and whatever its outbox recorded, each once."""
    ids = [
        step.job_id(document.id)
        for step in STEPS_BY_COMMAND.values()
        if document.kind in step.kinds
    ]
    ids += [entry.job_id for entry in outbox]
    return list(dict.fromkeys(ids))


def trail(document: Document) -> Trail:
    outbox = list(
        db.session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.document_id == document.id)
            .order_by(OutboxEntry.id)
        )
    )
    jobs, jobs_error = job_statuses(job_ids_of(document, outbox))
    audit = list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "Document", AuditEntry.target_id == str(document.id))
            .order_by(AuditEntry.id)
        )
    )
    attempts = list(
        db.session.scalars(
            select(PostingAttempt)
            .where(PostingAttempt.document_id == document.id)
            .order_by(PostingAttempt.attempt_no)
        )
    )
    return Trail(
        document,
        list(document.timeline),
        outbox,
        jobs,
        jobs_error,
        audit,
        erp_calls.calls_of(document.id),
        attempts,
    )
