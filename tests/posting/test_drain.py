"""With the ERP down, posting opens the breaker and defers instead of hammering it; when the ERP
is back the backlog drains by itself (scheduled retries and deferrals, one probe first) and
every invoice is booked exactly once."""

from __future__ import annotations

import time

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentState
from app.jobs import ERP_QUEUE, redis_connection
from app.posting.models import AttemptState, BreakerEvent, PostingAttempt
from tests.posting.conftest import validated_invoice

DRAIN_SECONDS = 30


def work_erp_queue_with_scheduler() -> None:
    connection = redis_connection()
    queues = [Queue(ERP_QUEUE, connection=connection)]
    SimpleWorker(queues, connection=connection).work(burst=True, with_scheduler=True)


def states(ids: list[int]) -> set[DocumentState]:
    db.session.expire_all()
    return set(db.session.scalars(select(Document.state).where(Document.id.in_(ids))))


@pytest.mark.slow
def test_the_backlog_drains_once_the_erp_is_back(client, lakeside, portal_erp, app, monkeypatch):
    for name, value in {
        "POSTING_BACKOFF_BASE": 0.2,
        "POSTING_BACKOFF_CAP": 0.5,
        "POSTING_MAX_ATTEMPTS": 50,
        "BREAKER_FAILURE_THRESHOLD": 2,
        "BREAKER_WINDOW_SECONDS": 30,
        "BREAKER_OPEN_SECONDS": 1,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    erp = portal_erp.client()
    ids = [validated_invoice(client, lakeside, erp) for _ in range(4)]
    portal_erp.set_faults(unavailable=True, retry_after=0)
    work_erp_queue_with_scheduler()
    failed_while_down = db.session.scalar(
        select(db.func.count()).where(PostingAttempt.state == AttemptState.FAILED)
    )
    assert failed_while_down == 2  # then the breaker opened: the others were deferred
    assert states(ids) <= {DocumentState.VALIDATED, DocumentState.POSTING}
    portal_erp.clear_faults()
    deadline = time.monotonic() + DRAIN_SECONDS
    while states(ids) != {DocumentState.POSTED} and time.monotonic() < deadline:
        time.sleep(0.3)
        work_erp_queue_with_scheduler()
    assert states(ids) == {DocumentState.POSTED}
    for document_id in ids:
        number = db.session.get(Document, document_id).document_number
        assert erp.find_ap_invoice("V1001", number) is not None
    posted = db.session.scalars(
        select(PostingAttempt.document_id).where(PostingAttempt.state == AttemptState.POSTED)
    ).all()
    assert sorted(posted) == sorted(ids)  # one posted attempt each
    changes = db.session.execute(
        select(BreakerEvent.from_state, BreakerEvent.to_state).order_by(BreakerEvent.id)
    ).all()
    assert [tuple(c) for c in changes][:3] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
