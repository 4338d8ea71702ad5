"""Payment sync: ask the ERP about posted invoices and mark the paid ones PAID, with the date
and the reference the supplier sees. Runs with every sweep (app.pipeline.HOUSEKEEPING), each
invoice at most every PAYMENT_SYNC_MINUTES, the longest unasked first.

A disputed line accepted after its invoice was booked is its own AP invoice in the ERP
(app.posting.services), paid on its own: payment sync follows it too, on the same terms, and
keeps its date and reference on the hold (the invoice's state is the main AP invoice's alone)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from flask import current_app, g
from sqlalchemy import select

from app.audit.services import record
from app.db import db
from app.documents.models import Document, DocumentState
from app.documents.transitions import transition
from app.erp import get_erp
from app.erp.errors import ErpError, ErpUnavailable
from app.erp.interface import Payment
from app.matching.models import LINE_POSTED, Hold
from app.pipeline import on_behalf_of
from app.posting import breaker
from app.posting.models import AttemptState, PostingAttempt
from app.posting.services import SYSTEM

log = structlog.get_logger(__name__)
ENDPOINT = "payments"
# A booked line is asked about while its invoice is booked or paid (never once it is gone).
BOOKED = (DocumentState.POSTED, DocumentState.PAID)


@dataclass(frozen=True)
class Synced:
    invoices: int  # invoices that became PAID
    lines: int  # separately booked lines found paid


def sync_due(now: dt.datetime) -> int:
    """Check a batch of posted invoices and one of booked lines; answers how many invoices
    became PAID (what the sweep counts; `sync` tells the lines too)."""
    return sync(now).invoices


def sync(now: dt.datetime) -> Synced:
    """Check a batch of posted invoices, then a batch of separately booked lines."""
    minutes = int(current_app.config["PAYMENT_SYNC_MINUTES"])
    due_before = now - dt.timedelta(minutes=minutes)
    invoices = _sync_invoices(now, due_before)
    lines = _sync_lines(now, due_before)
    if lines:
        log.info("booked lines paid", lines=lines)
    return Synced(invoices, lines)


def _batch() -> int:
    return int(current_app.config["PAYMENT_SYNC_BATCH"])


# -- invoices ---------------------------------------------------------------------------------


def _sync_invoices(now: dt.datetime, due_before: dt.datetime) -> int:
    paid = 0
    for document, attempt in _due(due_before):
        if not breaker.allow(ENDPOINT).allowed:
            break  # the ERP is failing: the next sweep asks again
        attempt.payment_checked_at = now
        paid += _check(document, attempt)
    return paid


def _due(due_before: dt.datetime) -> list[tuple[Document, PostingAttempt]]:
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
        .limit(_batch())
        .with_for_update(of=Document, skip_locked=True)
    )
    return [(document, attempt) for document, attempt in rows]


def _check(document: Document, attempt: PostingAttempt) -> int:
    payment = _paid(document.id, int(attempt.erp_ap_invoice_id or 0))
    if payment is None or payment.paid_on is None:
        return 0
    document.paid_on, document.payment_reference = payment.paid_on, payment.reference
    transition(
        document,
        DocumentState.PAID,
        SYSTEM,
        f"paid on {payment.paid_on.isoformat()}, reference {payment.reference or 'none'}",
        details={"paid_on": payment.paid_on.isoformat(), "reference": payment.reference},
    )
    return 1


# -- lines booked on their own ----------------------------------------------------------------


def _sync_lines(now: dt.datetime, due_before: dt.datetime) -> int:
    paid = 0
    for hold, document in _due_lines(due_before):
        if not breaker.allow(ENDPOINT).allowed:
            break
        hold.followup_checked_at = now
        paid += _check_line(hold, document)
    return paid


def _due_lines(due_before: dt.datetime) -> list[tuple[Hold, Document]]:
    """Posted lines not known paid, of a booked invoice, unasked since `due_before`. The hold
    is the row that changes: locked, and skipped while another sweep holds it."""
    rows = db.session.execute(
        select(Hold, Document)
        .join(Document, Document.id == Hold.document_id)
        .where(
            Hold.followup == LINE_POSTED,
            Hold.followup_paid_on.is_(None),
            Hold.followup_ap_invoice_id.is_not(None),
            Document.state.in_(BOOKED),
            (Hold.followup_checked_at.is_(None)) | (Hold.followup_checked_at <= due_before),
        )
        .order_by(Hold.followup_checked_at.asc().nulls_first(), Hold.id)
        .limit(_batch())
        .with_for_update(of=Hold, skip_locked=True)
    )
    return [(hold, document) for hold, document in rows]


def _check_line(hold: Hold, document: Document) -> int:
    payment = _paid(document.id, int(hold.followup_ap_invoice_id or 0), hold_id=hold.id)
    if payment is None or payment.paid_on is None:
        return 0
    reference = payment.reference[:64] if payment.reference else None
    hold.followup_paid_on, hold.followup_payment_reference = payment.paid_on, reference
    record(
        "invoice.line_paid",
        actor_label=SYSTEM,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={
            "line": hold.line,
            "amount": str(hold.amount_at_risk),
            "paid_amount": str(payment.amount),
            "ap_invoice_id": hold.followup_ap_invoice_id,
            "paid_on": payment.paid_on.isoformat(),
            "reference": reference,
        },
    )
    return 1


# -- the ERP's answer -------------------------------------------------------------------------


def _paid(document_id: int, ap_invoice_id: int, **context: int) -> Payment | None:
    """The ERP's payment of one AP invoice when it is paid, else None (not yet, or the ERP did
    not answer: a failure to reach it counts against the breaker, the next sweep asks again)."""
    try:
        with on_behalf_of(document_id):
            payment = get_erp().get_payment(ap_invoice_id, correlation_id=g.get("correlation_id"))
    except ErpUnavailable as exc:
        breaker.record_failure(ENDPOINT, f"{exc.reason}: {exc.message}")
        return None
    except ErpError as exc:
        log.warning("payment lookup failed", document_id=document_id, error=str(exc), **context)
        return None
    breaker.record_success(ENDPOINT)
    return payment if payment.status == "PAID" and payment.paid_on is not None else None
