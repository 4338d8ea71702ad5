"""The reconciler: every document not at an end state, with no live job, that has not moved
for RECONCILE_AFTER_SECONDS is sent on again, with an audit entry. Lost Redis data, killed
workers and dropped jobs all end here.

It completes the outbox sweeper (`app.documents.sweeper`), whose helpers it uses: the sweeper
resends *open outbox entries* a few times; the reconciler starts from the *documents* and their
states, so it also finds work whose entry was closed or gave up, and posting attempts whose
lease ran out. It runs with every sweep (`app.pipeline.HOUSEKEEPING`) and as
`flask --app wsgi documents reconcile`. States parked with a person (ON_HOLD with finance, DEAD
with ops) or with a periodic job (POSTED, for payment sync) are not its business.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import structlog
from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select

from app.audit.services import record
from app.db import db, utcnow
from app.documents.models import Document, DocumentState
from app.documents.sweeper import job_is_live
from app.jobs import enqueue_now, redis_connection
from app.pipeline import POST, Step, event_name, next_step
from app.posting.models import PostingAttempt, ReconciledDocument, ReconcileRun

log = structlog.get_logger(__name__)

S = DocumentState
MOVING = (S.RECEIVED, S.NORMALIZED, S.VALIDATED, S.POSTING)
BATCH = 500


def reconcile_due(now: dt.datetime) -> int:
    """The scheduled run (housekeeping of the sweep); answers how many it re-enqueued."""
    return len(reconcile(now, trigger="schedule").requeued)


def reconcile(now: dt.datetime | None = None, *, trigger: str = "cli") -> ReconcileRun:
    """One run, recorded in `reconcile_runs` (in the caller's unit of work)."""
    now = now or utcnow()
    run = ReconcileRun(started_at=now, trigger=trigger, checked=0, requeued=[])
    requeued: list[int] = []
    try:
        for document, step in _stale(now):
            run.checked += 1
            if _in_flight(document.id, now) or job_is_live(
                redis_connection(), step.job_id(document.id)
            ):
                continue
            if not _count_resend(document, now):
                continue
            _resend(document, step)
            requeued.append(document.id)
    except RedisError:
        log.warning("reconciler stopped: Redis unreachable", requeued=len(requeued))
    run.requeued, run.finished_at = requeued, utcnow()
    db.session.add(run)
    if requeued:
        log.warning("reconciler re-enqueued documents", count=len(requeued), ids=requeued[:20])
    return run


def last_run() -> ReconcileRun | None:
    """The newest run, for the ops page."""
    return db.session.scalar(select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(1))


def step_for(document: Document) -> Step | None:
    """The job that moves `document` on from its state (POSTING is owed the post job)."""
    if document.state == S.POSTING:
        return POST
    return next_step(event_name(document.state.value), document.kind.value)


def _stale(now: dt.datetime) -> list[tuple[Document, Step]]:
    cutoff = now - dt.timedelta(seconds=int(current_app.config["RECONCILE_AFTER_SECONDS"]))
    documents = db.session.scalars(
        select(Document)
        .where(Document.state.in_(MOVING), Document.updated_at <= cutoff)
        .order_by(Document.updated_at, Document.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    found = []
    for document in documents:
        step = step_for(document)
        if step is not None:
            found.append((document, step))
    return found


def _in_flight(document_id: int, now: dt.datetime) -> bool:
    """A posting attempt holds a live lease, or its retry is not yet overdue."""
    grace = dt.timedelta(seconds=int(current_app.config["RECONCILE_AFTER_SECONDS"]))
    latest = db.session.execute(
        select(func.max(PostingAttempt.lease_until), func.max(PostingAttempt.retry_at)).where(
            PostingAttempt.document_id == document_id
        )
    ).one()
    lease_until, retry_at = latest
    return (lease_until is not None and lease_until > now) or (
        retry_at is not None and retry_at + grace > now
    )


def _count_resend(document: Document, now: dt.datetime) -> bool:
    """Count one more resend from the document's state; False once it had its share."""
    tally = db.session.get(ReconciledDocument, document.id)
    if tally is None:
        tally = ReconciledDocument(
            document_id=document.id, stuck_in=document.state.value, resends=0
        )
        db.session.add(tally)
    elif tally.stuck_in != document.state.value:
        tally.stuck_in, tally.resends = document.state.value, 0  # it moved since: a fresh count
    if tally.resends >= int(current_app.config["RECONCILE_MAX_RESENDS"]):
        log.warning("document left for ops: its job keeps failing", document_id=document.id)
        return False
    tally.resends += 1
    tally.last_at = now
    return True


def _resend(document: Document, step: Step) -> None:
    connection = redis_connection()
    job_id = step.job_id(document.id)
    # A failed or finished job of the same id would shadow the new one in RQ's registries.
    with contextlib.suppress(NoSuchJobError):
        Job.fetch(job_id, connection=connection).delete()
    enqueue_now(
        step.job,
        document.id,
        queue_name=step.queue,
        job_id=job_id,
        retry=step.retry(),
        correlation_id=document.correlation_id,
    )
    record(
        "document.reconciled",
        actor_label="system",
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={"state": document.state.value, "job": job_id},
    )
