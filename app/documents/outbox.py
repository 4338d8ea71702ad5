"""The transactional outbox: work owed to a document is written with the change that made it
due, sent to RQ after the commit, and closed by the job that does it.

If the send after the commit is lost (Redis down, process killed), the open entry is still in
the database and the sweeper sends it again; jobs are idempotent, so a double send is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from rq.utils import import_attribute
from sqlalchemy import CursorResult, insert, update

from app import jobs
from app.db import db, table_of, utcnow
from app.documents.models import OutboxEntry
from app.pipeline import Step


def schedule(document_ids: Sequence[int], step: Step) -> None:
    """Owe `step` to each document: an outbox entry now, the job once the transaction commits."""
    now = utcnow()
    db.session.execute(
        insert(table_of(OutboxEntry)),
        [
            {
                "document_id": document_id,
                "command": step.command,
                "job_id": step.job_id(document_id),
                "created_at": now,
                "resends": 0,
            }
            for document_id in document_ids
        ],
    )
    enqueue_after_commit(document_ids, step)


def enqueue_after_commit(document_ids: Sequence[int], step: Step) -> None:
    """Send each document's job for `step` once the transaction (holding its entry) commits."""
    job = import_attribute(step.job)
    for document_id in document_ids:
        jobs.enqueue_after_commit(
            job,
            document_id,
            queue_name=step.queue,
            job_id=step.job_id(document_id),
            retry=step.retry(),
            chain=True,
        )


def complete(document_id: int, step: Step) -> int:
    """Close the open entries for `step` on a document; the job calls it as it finishes."""
    result = db.session.execute(
        update(OutboxEntry)
        .where(
            OutboxEntry.document_id == document_id,
            OutboxEntry.command == step.command,
            OutboxEntry.completed_at.is_(None),
        )
        .values(completed_at=utcnow())
    )
    return cast(CursorResult, result).rowcount or 0


def send_now(entry: OutboxEntry, step: Step, correlation_id: str | None) -> None:
    """Enqueue an entry's job immediately (the sweeper's path; raises if Redis is down)."""
    jobs.enqueue_now(
        step.job,
        entry.document_id,
        queue_name=step.queue,
        job_id=entry.job_id,
        retry=step.retry(),
        correlation_id=correlation_id,
    )
