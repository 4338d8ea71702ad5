"""Payment sync: ask the ERP about posted invoices and mark the paid ones PAID, with the date
and the reference the supplier sees. Runs with every sweep (app.pipeline.HOUSEKEEPING), each
invoice at most every PAYMENT_SYNC_MINUTES, the longest unasked first."""

from __future__ import annotations

import datetime as dt

import structlog
from flask import current_app, g
from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentState
from app.documents.transitions import transition
from app.erp import get_erp
from app.erp.errors import ErpError, ErpUnavailable
from app.pipeline import on_behalf_of
from app.posting import breaker
from app.posting.models import AttemptState, PostingAttempt

log = structlog.get_logger(__name__)
ENDPOINT = "payments"


def sync_due(now: dt.datetime) -> int:
    """Check a batch of posted invoices; answers how many became PAID."""
    minutes = int(current_app.config["PAYMENT_SYNC_MINUTES"])
    due_before = now - dt.timedelta(minutes=minutes)
    paid = 0
    for document, attempt in _due(due_before):
        if not breaker.allow(ENDPOINT).allowed:
            break  # the ERP is failing: the next sweep asks again
        attempt.payment_checked_at = now
        paid += _check(document, attempt)
    return paid


def _due(due_before: dt.datetime) -> list[tuple[Document, PostingAttempt]]:
    batch = int(current_app.config["PAYMENT_SYNC_BATCH"])
    rows = db.session.execute(
        select(Document, PostingAttempt)
        .join(PostingAttempt, PostingAttempt.document_id == Document.id)
        .where(
            Document.state == DocumentState.POSTED,
            PostingAttempt.state == AttemptState.POSTED,
            (PostingAttempt.payment_checked_at.is_(None))
            | (PostingAttempt.payment_checked_at <= due_before),
        )
        .order_by(PostingAttempt.payment_checked_at.asc().nulls_first(), Document.id)
        .limit(batch)
        .with_for_update(of=Document, skip_locked=True)
    )
    return [(document, attempt) for document, attempt in rows]


def _check(document: Document, attempt: PostingAttempt) -> int:
    try:
        with on_behalf_of(document.id):
            payment = get_erp().get_payment(
                int(attempt.erp_ap_invoice_id or 0), correlation_id=g.get("correlation_id")
            )
    except ErpUnavailable as exc:
        breaker.record_failure(ENDPOINT, f"{exc.reason}: {exc.message}")
        return 0
    except ErpError as exc:
        log.warning("payment lookup failed", document_id=document.id, error=str(exc))
        return 0
    breaker.record_success(ENDPOINT)
    if payment.status != "PAID" or payment.paid_on is None:
        return 0
    document.paid_on, document.payment_reference = payment.paid_on, payment.reference
    transition(
        document,
        DocumentState.PAID,
        "system",
        f"paid on {payment.paid_on.isoformat()}, reference {payment.reference or 'none'}",
        details={"paid_on": payment.paid_on.isoformat(), "reference": payment.reference},
    )
    return 1
