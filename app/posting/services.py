"""The post stage's use case, in three phases with a commit between each (Brandur Leach's
"atomic phases"): the ERP call sits between two commits, so what was claimed is durable before
anything leaves and what came back is recorded whatever happens to this worker afterwards.

1. claim (under the document's row lock): the invoice must be VALIDATED or POSTING with no open
   hold, and no other worker may hold a live lease; an unfinished earlier attempt (a lease run
   out) or an `unknown` one means the ERP may have booked it: this attempt looks it up first.
2. call the ERP with the deterministic Idempotency-Key (outside any transaction).
3. settle (under the lock again): POSTED, ON_HOLD with an ERP_REJECTED hold (422), a retry
   after a capped, jittered backoff, or DEAD once POSTING_MAX_ATTEMPTS attempts failed.

The circuit breaker (`app.posting.breaker`) is asked before the claim; while it is open the job
is deferred to when it may half-open, and no attempt is counted.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from flask import current_app, g
from redis.exceptions import RedisError
from sqlalchemy import func, select, update

from app.audit.services import record
from app.canonical import Invoice
from app.db import db, unit_of_work_retried, utcnow
from app.documents import outbox
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.documents.queries import locked_document
from app.documents.transitions import transition
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound, ErpRejected, ErpUnavailable
from app.erp.interface import ApInvoice
from app.jobs import queue
from app.matching.findings import LINE_ONLY, HoldCode, Severity
from app.matching.models import LINE_POSTED, LINE_REFUSED, OWED, Hold, HoldStatus
from app.matching.queries import waits_on
from app.pipeline import POST
from app.posting import attempts, backoff, breaker, payload
from app.posting.models import AttemptState, PostingAttempt

log = structlog.get_logger(__name__)

SYSTEM = "system"
ENDPOINT = "ap-invoices"
# Transport failures after which the request may have reached the ERP: an unknown outcome.
UNKNOWN_REASONS = frozenset({"read_timeout", "connection_error"})
S = DocumentState
# RQ's scheduler may start a retry a little before its time.
EARLY = dt.timedelta(seconds=2)
# A withheld (disputed) line once its dispute is released is OWED, then LINE_POSTED or
# LINE_REFUSED (`Hold.followup`; the values live with the hold, which the supplier's pages read
# too); payment sync then follows a posted line to its payment (app.posting.payments).


@dataclass(frozen=True)
class Claim:
    attempt_id: int
    attempt_no: int
    document_id: int
    key: str
    body: dict[str, Any]
    look_up_first: bool
    correlation_id: str | None


@dataclass(frozen=True)
class Outcome:
    state: AttemptState
    ap_invoice_id: int | None = None
    error: str | None = None
    code: str | None = None
    retry_after: float | None = None
    resolved_by: str = "create"


def post(document_id: int) -> str:
    """Post one invoice; answers what happened ("posted", "deferred", "retry", ...)."""
    decision = breaker.allow(ENDPOINT)
    if not decision.allowed:
        defer(document_id, decision.retry_at or 0.0, "ERP breaker open")
        return "deferred"
    # Each phase runs again on a fresh connection if the database drops it before it commits.
    claim, why = unit_of_work_retried(lambda: claim_attempt(document_id))
    if why == "lines":
        result = post_accepted_lines(document_id)
        if result == "nothing owed" and decision.probe:
            breaker.release_probe(ENDPOINT)
        return result
    if claim is None:
        if decision.probe:
            breaker.release_probe(ENDPOINT)
        if why in ("busy", "waiting"):
            _come_back(document_id)
        return why
    outcome = call_erp(claim)
    result, retry_in = unit_of_work_retried(lambda: settle(claim, outcome))
    unit_of_work_retried(lambda: _report_to_breaker(outcome))  # its state changes are kept
    if retry_in is not None:
        schedule_retry(document_id, claim.attempt_no, retry_in)
    if result == "posted" and unit_of_work_retried(lambda: owed_lines(document_id)):
        post_accepted_lines(document_id)
    return result


# -- 1. claim --------------------------------------------------------------------------------


def claim_attempt(document_id: int) -> tuple[Claim | None, str]:
    """Claim the right to post, or None with the reason there is nothing to do now."""
    document = locked_document(document_id)
    if document is None or document.kind != DocumentKind.INVOICE:
        return None, "missing"
    last, now = latest_attempt(document_id), utcnow()
    why = _nothing_to_do(document, last, now)
    if why is not None:
        return None, why
    look_up_first = last is not None and last.state in (AttemptState.SENDING, AttemptState.UNKNOWN)
    if last is not None and last.state == AttemptState.SENDING:
        _lease_lost(last, now)
    if document.state == S.VALIDATED:
        transition(document, S.POSTING, SYSTEM, "sent to the ERP's accounts payable")
    attempt = _new_attempt(document, last, now)
    claim = Claim(
        attempt.id,
        attempt.attempt_no,
        document_id,
        attempt.idempotency_key,
        attempt.payload,
        look_up_first,
        document.correlation_id,
    )
    return claim, "claimed"


def _nothing_to_do(document: Document, last: PostingAttempt | None, now: dt.datetime) -> str | None:
    """Why this document must not be sent now, or None when it must ("lines": only disputed
    lines accepted since the invoice was booked are owed)."""
    if document.state in (S.POSTED, S.PAID) and owed_lines(document.id):
        return "lines"
    if document.state not in (S.VALIDATED, S.POSTING):
        outbox.complete(document.id, POST)  # held, dead, posted: nothing owed now
        return document.state.value
    if has_open_holds(document.id):
        log.warning("held invoice not posted", document_id=document.id)
        return "held"
    return _last_attempt_says(document, last, now) if last is not None else None


def _last_attempt_says(document: Document, last: PostingAttempt, now: dt.datetime) -> str | None:
    if last.state == AttemptState.SENDING and last.lease_until > now:
        return "busy"  # another worker is on it; its own settle finishes the work
    if last.retry_at is not None and last.retry_at > now + EARLY:
        return "waiting"  # a resend before the backoff is over (the sweeper's, say)
    if last.state == AttemptState.POSTED:
        _posted(document, last)
        return "posted"
    return None


def has_open_holds(document_id: int) -> bool:
    """Whether an open hold keeps the whole invoice back; a disputed line does not (the invoice
    is booked without it), unless every line is disputed."""
    document = db.session.get(Document, document_id)
    return document is not None and waits_on(document)


def latest_attempt(document_id: int) -> PostingAttempt | None:
    return db.session.scalar(
        select(PostingAttempt)
        .where(PostingAttempt.document_id == document_id)
        .order_by(PostingAttempt.attempt_no.desc())
        .limit(1)
    )


def idempotency_key(document_id: int, rejections: int) -> str:
    """The document's key: the same for every attempt, so the ERP books it once. Only a
    business refusal (nothing booked) moves it on, since the ERP answers a repeated key with
    its first answer forever and a corrected invoice must be looked at afresh."""
    return f"invoice-{document_id}" + (f"-{rejections}" if rejections else "")


def _new_attempt(
    document: Document, last: PostingAttempt | None, now: dt.datetime
) -> PostingAttempt:
    rejections = db.session.scalar(
        select(func.count())
        .select_from(PostingAttempt)
        .where(
            PostingAttempt.document_id == document.id,
            PostingAttempt.state == AttemptState.REJECTED,
        )
    )
    lease = dt.timedelta(seconds=int(current_app.config["POSTING_LEASE_SECONDS"]))
    attempt = PostingAttempt(
        document_id=document.id,
        attempt_no=(last.attempt_no + 1) if last else 1,
        state=AttemptState.SENDING,
        idempotency_key=idempotency_key(document.id, rejections or 0),
        worker=worker_name(),
        lease_until=now + lease,
        started_at=now,
    )
    attempt.payload = _body(document, _withheld(document, last, attempt.idempotency_key))
    db.session.add(attempt)
    db.session.flush()
    return attempt


def _withheld(document: Document, last: PostingAttempt | None, key: str) -> set[str]:
    """The disputed lines this attempt leaves out. Every attempt under one key sends what the
    first one did (the ERP answers a key with its first answer, so a dispute released while
    an outcome is unknown must not change the body); a new key takes the open disputes now and
    marks them withheld under it."""
    if last is not None and last.idempotency_key == key:
        query = select(Hold.line).where(Hold.document_id == document.id, Hold.withheld_key == key)
        return {line for line in db.session.scalars(query) if line}
    open_disputes = db.session.scalars(
        select(Hold).where(
            Hold.document_id == document.id,
            Hold.status == HoldStatus.OPEN,
            Hold.code.in_(LINE_ONLY),
        )
    ).all()
    for hold in open_disputes:
        hold.withheld_key = key
    return {hold.line for hold in open_disputes if hold.line}


def _body(document: Document, withheld: set[str]) -> dict[str, Any]:
    supplier = document.supplier or document.sender
    invoice = Invoice.model_validate(document.canonical)
    return payload.ap_invoice(invoice, supplier.erp_vendor_number or "", withheld)


def _lease_lost(attempt: PostingAttempt, now: dt.datetime) -> None:
    attempts.finish(
        attempt,
        AttemptState.UNKNOWN,
        now,
        error=f"lease ran out with the call unfinished (worker {attempt.worker})",
        resolved_by="lease",
    )


def _posted(document: Document, attempt: PostingAttempt) -> None:
    if document.state == S.POSTING:
        withheld = _withheld_by(attempt)
        transition(
            document,
            S.POSTED,
            SYSTEM,
            f"booked in the ERP as AP invoice {attempt.erp_ap_invoice_id}"
            + (f", without disputed line(s) {', '.join(withheld)}" if withheld else ""),
            details={"ap_invoice_id": attempt.erp_ap_invoice_id, "attempt": attempt.attempt_no},
        )
    # Disputes released while this attempt was out: their lines are owed now.
    db.session.execute(
        update(Hold)
        .where(
            Hold.document_id == document.id,
            Hold.withheld_key == attempt.idempotency_key,
            Hold.status == HoldStatus.RELEASED,
            Hold.followup.is_(None),
        )
        .values(followup=OWED)
    )
    if not owed_lines(document.id):
        outbox.complete(document.id, POST)


def _withheld_by(attempt: PostingAttempt) -> list[str]:
    query = select(Hold.line).where(
        Hold.document_id == attempt.document_id, Hold.withheld_key == attempt.idempotency_key
    )
    return sorted(line for line in db.session.scalars(query) if line)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


# -- 2. the ERP call -------------------------------------------------------------------------


def call_erp(claim: Claim) -> Outcome:
    """Look the invoice up first when an earlier outcome is unknown; send it unless found."""
    erp = get_erp()
    body = claim.body
    try:
        if claim.look_up_first:
            found = erp.find_ap_invoice(
                body["vendor_number"], body["invoice_number"], correlation_id=claim.correlation_id
            )
            if found is not None and _same_invoice(found, body):
                return Outcome(AttemptState.POSTED, ap_invoice_id=found.id, resolved_by="lookup")
        booked = erp.create_ap_invoice(body, claim.key, correlation_id=claim.correlation_id)
        return Outcome(AttemptState.POSTED, ap_invoice_id=booked.id)
    except ErpUnavailable as exc:
        state = AttemptState.UNKNOWN if exc.reason in UNKNOWN_REASONS else AttemptState.FAILED
        return Outcome(state, error=f"{exc.reason}: {exc.message}", retry_after=exc.retry_after)
    except (ErpRejected, ErpNotFound) as exc:
        code = getattr(exc, "code", "NOT_FOUND")
        return Outcome(AttemptState.REJECTED, error=exc.message, code=code)
    except ErpError as exc:
        return Outcome(AttemptState.FAILED, error=f"{type(exc).__name__}: {exc.message}")


def _same_invoice(found: ApInvoice, body: dict[str, Any]) -> bool:
    """The booked invoice is this one, not an earlier one of the same number (a duplicate that
    finance let through would then be refused by the ERP, not taken for posted)."""
    return found.total_amount == Decimal(body["total_amount"]) and (
        found.invoice_date.isoformat() == body["invoice_date"]
    )


def _report_to_breaker(outcome: Outcome) -> None:
    if outcome.state in (AttemptState.FAILED, AttemptState.UNKNOWN):
        breaker.record_failure(ENDPOINT, outcome.error or "failed")
    else:
        breaker.record_success(ENDPOINT)


# -- 3. settle -------------------------------------------------------------------------------


def settle(claim: Claim, outcome: Outcome) -> tuple[str, float | None]:
    """Record the outcome; returns what happened and, for a retry, the seconds to wait."""
    document = locked_document(claim.document_id)
    attempt = db.session.get(PostingAttempt, claim.attempt_id)
    if document is None or attempt is None or attempt.state != AttemptState.SENDING:
        return "superseded", None  # our lease ran out and another claim took over
    now = utcnow()
    attempts.finish(
        attempt,
        outcome.state,
        now,
        error=outcome.error,
        resolved_by=outcome.resolved_by,
        ap_invoice_id=outcome.ap_invoice_id,
    )
    if outcome.state == AttemptState.POSTED:
        _posted(document, attempt)
        return "posted", None
    if outcome.state == AttemptState.REJECTED:
        _erp_rejected(document, outcome)
        return "held", None
    return _failed(document, attempt, outcome, now)


def _erp_rejected(document: Document, outcome: Outcome) -> None:
    reason = f"{outcome.code}: {outcome.error}"
    db.session.add(
        Hold(
            document_id=document.id,
            code=HoldCode.ERP_REJECTED,
            severity=Severity.HOLD,
            finance_message=f"The ERP refused to book the invoice: {reason}",
            supplier_message="The hospital's accounting system could not enter this invoice; "
            "the accounts payable team is looking at it.",
            actual=(outcome.code or "")[:200],
        )
    )
    # The ERP's own words name vendors and internal records: they are for finance (the hold's
    # finance message); the supplier's timeline says it plainly.
    transition(
        document,
        S.ON_HOLD,
        SYSTEM,
        "the hospital's accounting system could not enter it: accounts payable is looking at it",
        details={"holds": [HoldCode.ERP_REJECTED.value], "erp_code": outcome.code},
    )
    outbox.complete(document.id, POST)


def _failed(
    document: Document, attempt: PostingAttempt, outcome: Outcome, now: dt.datetime
) -> tuple[str, float | None]:
    config = current_app.config
    failures = failures_since_last_death(document.id)
    if failures >= int(config["POSTING_MAX_ATTEMPTS"]):
        transition(
            document,
            S.DEAD,
            SYSTEM,
            f"gave up after {failures} attempts: {outcome.error}",
            details={"last_error": outcome.error, "attempts": failures},
        )
        outbox.complete(document.id, POST)
        return "dead", None
    wait = backoff.delay(
        failures,
        float(config["POSTING_BACKOFF_BASE"]),
        float(config["POSTING_BACKOFF_CAP"]),
        outcome.retry_after,
    )
    attempt.retry_at = now + dt.timedelta(seconds=wait)
    return "retry", wait


def failures_since_last_death(document_id: int) -> int:
    """Failed or unknown attempts since the document last went DEAD (a replay starts the
    count afresh; every attempt before a death started before it)."""
    died = db.session.scalar(
        select(func.max(DocumentEvent.at)).where(
            DocumentEvent.document_id == document_id, DocumentEvent.to_state == S.DEAD
        )
    )
    query = select(func.count()).where(
        PostingAttempt.document_id == document_id,
        PostingAttempt.state.in_((AttemptState.FAILED, AttemptState.UNKNOWN)),
    )
    if died is not None:
        query = query.where(PostingAttempt.started_at > died)
    return db.session.scalar(query) or 0


# -- a disputed line, accepted after the invoice was booked ----------------------------------


def accept_withheld_line(hold: Hold) -> bool:
    """A released DISPUTE hold: the supplier's line is accepted as billed. If the invoice was
    already booked without it, the line is owed as its own AP invoice and the post job is sent
    (after the commit; the outbox keeps it until done). If the booking is still out, settling
    it marks the line owed (`_posted`); if nothing was booked yet, the invoice is booked whole.
    The caller holds the document's row lock, as a claim does, so the two never interleave."""
    if hold.withheld_key is None or hold.followup is not None:
        return False
    booked = db.session.scalar(
        select(PostingAttempt.id).where(
            PostingAttempt.document_id == hold.document_id,
            PostingAttempt.idempotency_key == hold.withheld_key,
            PostingAttempt.state == AttemptState.POSTED,
        )
    )
    if booked is None:
        return False
    hold.followup = OWED
    outbox.schedule([hold.document_id], POST)
    return True


def owed_lines(document_id: int) -> list[Hold]:
    query = select(Hold).where(Hold.document_id == document_id, Hold.followup == OWED)
    return list(db.session.scalars(query.order_by(Hold.id)))


@dataclass(frozen=True)
class LineClaim:
    hold_id: int
    key: str
    body: dict[str, Any]
    correlation_id: str | None


def post_accepted_lines(document_id: int) -> str:
    """Book each owed line as its own AP invoice. Its key is fixed (`line_key`), so a resend
    after a lost answer, or two workers at once, get the ERP's first answer: booked once. A
    failure leaves the line owed and the outbox entry open: the job comes back."""
    claims = unit_of_work_retried(lambda: _line_claims(document_id))
    if not claims:  # another run booked them
        unit_of_work_retried(lambda: _lines_done(document_id))
        return "nothing owed"
    failed = False
    for claim in claims:
        outcome = call_erp(
            Claim(0, 0, document_id, claim.key, claim.body, False, claim.correlation_id)
        )
        unit_of_work_retried(functools.partial(_settle_line, document_id, claim, outcome))
        unit_of_work_retried(functools.partial(_report_to_breaker, outcome))
        failed = failed or outcome.state in (AttemptState.FAILED, AttemptState.UNKNOWN)
    if failed:
        wait = max(float(current_app.config["POSTING_BACKOFF_CAP"]), 1.0)
        _enqueue_later(
            document_id, f"{POST.job_id(document_id)}-lines-{int(utcnow().timestamp())}", wait
        )
        return "retry"
    unit_of_work_retried(lambda: _lines_done(document_id))
    return "lines posted"


def line_key(document_id: int, hold_id: int) -> str:
    return f"invoice-{document_id}-line-{hold_id}"


def _line_claims(document_id: int) -> list[LineClaim]:
    document = locked_document(document_id)
    if document is None:
        return []
    invoice = Invoice.model_validate(document.canonical)
    vendor = (document.supplier or document.sender).erp_vendor_number or ""
    return [
        LineClaim(
            hold.id,
            line_key(document_id, hold.id),
            payload.withheld_line(invoice, vendor, hold.line or ""),
            document.correlation_id,
        )
        for hold in owed_lines(document_id)
    ]


def _settle_line(document_id: int, claim: LineClaim, outcome: Outcome) -> None:
    document = locked_document(document_id)
    hold = db.session.get(Hold, claim.hold_id)
    if document is None or hold is None or hold.followup != OWED:
        return  # another run settled it
    details: dict[str, Any]
    if outcome.state == AttemptState.POSTED:
        hold.followup, hold.followup_ap_invoice_id = LINE_POSTED, outcome.ap_invoice_id
        action, details = "invoice.line_posted", {"ap_invoice_id": outcome.ap_invoice_id}
    elif outcome.state == AttemptState.REJECTED:
        hold.followup = LINE_REFUSED
        action, details = "invoice.line_refused", {"erp_code": outcome.code, "error": outcome.error}
    else:
        return
    record(
        action,
        actor_label=SYSTEM,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={"line": hold.line, "amount": str(hold.amount_at_risk), **details},
    )


def _lines_done(document_id: int) -> None:
    if not owed_lines(document_id):
        outbox.complete(document_id, POST)


# -- later -----------------------------------------------------------------------------------


def schedule_retry(document_id: int, attempt_no: int, seconds: float) -> None:
    """Send the post job again in `seconds` (after the settle committed). If Redis cannot take
    it, the reconciler finds the document once the retry is overdue."""
    _enqueue_later(document_id, f"{POST.job_id(document_id)}-retry-{attempt_no}", seconds)


def defer(document_id: int, retry_at: float, why: str) -> None:
    """Come back when the breaker may let a call through; not a failure, not an attempt."""
    seconds = max(retry_at - utcnow().timestamp(), 0.5)
    _enqueue_later(document_id, f"{POST.job_id(document_id)}-at-{int(retry_at)}", seconds)
    log.info("posting deferred", document_id=document_id, seconds=round(seconds, 1), why=why)


def _come_back(document_id: int) -> None:
    """Another attempt holds the lease, or its backoff runs: make sure a job comes back when
    the lease ends (its worker may be dead) or the retry is due (its job may be lost). The job
    ids are the attempt's, so asking twice schedules one job."""
    attempt = latest_attempt(document_id)
    if attempt is None:
        return
    now = utcnow()
    if attempt.state == AttemptState.SENDING:
        seconds = (attempt.lease_until - now).total_seconds() + 1
        _enqueue_later(
            document_id, f"{POST.job_id(document_id)}-lease-{attempt.attempt_no}", seconds
        )
    elif attempt.retry_at is not None:
        seconds = (attempt.retry_at - now).total_seconds()
        schedule_retry(document_id, attempt.attempt_no, max(seconds, 0.5))


def _enqueue_later(document_id: int, job_id: str, seconds: float) -> None:
    try:
        queue(POST.queue).enqueue_in(
            dt.timedelta(seconds=seconds),
            POST.job,
            document_id,
            job_id=job_id,
            retry=POST.retry(),
            failure_ttl=7 * 24 * 3600,
            meta={"correlation_id": g.get("correlation_id")},
        )
    except RedisError:
        log.warning("could not schedule the next posting try", document_id=document_id)
