"""`seed-demo` leaves finance mid-work: dozens of held invoices of several kinds, some assigned,
some overdue, one with a question waiting for the supplier."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db, unit_of_work, utcnow
from app.demo import seed_demo
from app.documents.models import Document, DocumentState
from app.holds import queries
from app.holds.models import Question, Review
from app.matching.models import Hold, HoldStatus
from tests.intake.helpers import run_jobs


def test_the_demo_queue_is_mid_work(portal_erp):
    with unit_of_work():
        seed_demo()
    run_jobs()
    held = db.session.scalar(select(func.count()).where(Document.state == DocumentState.ON_HOLD))
    assert held >= 20
    kinds = db.session.scalar(
        select(func.count(func.distinct(Hold.code))).where(Hold.status == HoldStatus.OPEN)
    )
    assert kinds >= 4
    assert db.session.scalar(select(func.count()).where(Review.assignee_id.is_not(None))) >= 3
    overdue = queries.queue(queries.QueueFilters(sla=queries.Sla.OVERDUE))
    assert len(overdue) >= 3
    assert all(row.review.due_at < utcnow() for row in overdue)
    waiting = db.session.scalars(select(Question).where(Question.answered_at.is_(None))).all()
    assert len(waiting) == 1
