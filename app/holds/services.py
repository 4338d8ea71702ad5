"""What finance does with an invoice. Every action is audited; those that change what happens
to it need a reason.

Two clerks acting at once: a hold's release is a conditional UPDATE on its status and the
version the clerk's page showed, and every other action checks and bumps the invoice's review
version (SQLAlchemy's version counter: the second UPDATE of the same version matches no row).
Of two, one wins and the other is told it changed; nothing is applied twice. When nothing but
disputed lines is left open the invoice goes on to VALIDATED (booked without those lines; see
`release`). A person who corrected an invoice never releases its holds (four-eyes), and holds
that pass after a correction wait for another person (`app.matching.services.revalidate`). Rejecting sends the invoice back to the supplier with a Peppol
invoice-response reason code and a note it reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.queries import locked_document
from app.documents.transitions import transition
from app.holds import signals
from app.holds.models import Comment, Question, Review
from app.holds.queries import sla_hours
from app.matching.findings import LINE_ONLY, HoldCode, Severity
from app.matching.models import Correction, Hold, HoldStatus, release_open
from app.matching.queries import waits_on
from app.matching.services import revalidate
from app.orgs.roles import FINANCE_ROLES, Role
from app.pipeline import Transitioned, document_transitioned
from app.posting.services import accept_withheld_line

# Per hold code: may a person release it? Oracle's "manual release allowed" flag. A
# SUPPLIER_INACTIVE hold waits for the facts to change (the supplier reactivated).
MANUAL_RELEASE: dict[HoldCode, bool] = dict.fromkeys(HoldCode, True) | {
    HoldCode.SUPPLIER_INACTIVE: False
}
NOT_RELEASABLE = frozenset(code for code, allowed in MANUAL_RELEASE.items() if not allowed)
# Peppol invoice response (UNCL 4343 subset) reason codes, as the supplier's network shows them.
REJECT_REASONS = {
    "REF": "References incorrect",
    "LEG": "Legal information incorrect",
    "PRI": "Wrong price",
    "QTY": "Wrong quantity",
    "ITM": "Item id incorrect",
    "PAY": "Payment terms incorrect",
    "UNR": "Not recognized",
    "FIN": "Finance terms incorrect",
    "OTH": "Other",
}
# The fields finance may correct on an invoice line or the invoice.
CORRECTABLE = {
    "po_line": "PO line",
    "quantity": "Quantity",
    "cost_centre": "Cost centre",
}


class HoldActionError(ValueError):
    """An action finance may not take on this hold or invoice; the message says why."""


class HoldChangedError(HoldActionError):
    """Someone else acted on it first."""


# -- the review: assignee, SLA clock, version --------------------------------------------------


def review_of(document: Document) -> Review:
    """The invoice's review, made on first need (an invoice finance never touched has none);
    of two requests making it at once, the second reads the first's."""
    review = db.session.get(Review, document.id)
    if review is not None:
        return review
    try:
        with db.session.begin_nested():
            review = Review(document_id=document.id, version=1)
            db.session.add(review)
    except IntegrityError:
        review = db.session.get(Review, document.id)
        assert review is not None  # noqa: S101 - the row that refused our insert
    return review


CHANGED = "Someone else changed this invoice a moment ago: here it is as it is now."


def _claim(document: Document, version: int | None) -> Review:
    """The review, if the page the clerk acted on showed its current version."""
    review = review_of(document)
    if version is not None and review.version != version:
        raise HoldChangedError(CHANGED)
    return review


def _bump(review: Review, **values: Any) -> None:
    """Write `values` and the next version in one conditional UPDATE on the version read: of
    two requests acting on the same version, the second matches no row (it waited for the
    first's row lock, then saw the new version) and is told the invoice changed."""
    result = db.session.execute(
        update(Review)
        .where(Review.document_id == review.document_id, Review.version == review.version)
        .values(version=Review.version + 1, **values)
    )
    if cast(CursorResult, result).rowcount != 1:
        raise HoldChangedError(CHANGED)
    db.session.expire(review)


def start_clock(document_id: int, now: dt.datetime | None = None) -> Review:
    """The invoice went on hold: its SLA runs from the first time it was held, the shortest of
    its codes' (a clock already running, or set by the demo data, is kept)."""
    review = db.session.get(Review, document_id) or Review(document_id=document_id, version=1)
    db.session.add(review)
    if review.held_at is None:
        review.held_at = now or utcnow()
    if review.due_at is None:
        codes = db.session.scalars(
            select(Hold.code).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
        ).all()
        review.due_at = review.held_at + dt.timedelta(hours=sla_hours(codes))
    return review


@document_transitioned.connect
def _on_transition(transitioned: Transitioned, **_: Any) -> None:
    if transitioned.to_state == DocumentState.ON_HOLD.value and transitioned.kind == "invoice":
        start_clock(transitioned.document_id)


# -- assign ----------------------------------------------------------------------------------


def assign(document: Document, actor: User, assignee: User | None, version: int | None) -> None:
    """Give the invoice to a finance user (None: to nobody)."""
    if assignee is not None and not any(assignee.has_role(role) for role in FINANCE_ROLES):
        raise HoldActionError("Only a finance clerk or manager can work an invoice.")
    _bump(_claim(document, version), assignee_id=assignee.id if assignee else None)
    _audit("invoice.assigned", document, actor, {"assignee": assignee.email if assignee else None})


@dataclass(frozen=True)
class Outcome:
    document_id: int
    done: bool
    message: str


def bulk_assign(document_ids: Iterable[int], actor: User, assignee: User | None) -> list[Outcome]:
    outcomes = []
    for document in _documents(document_ids):
        try:
            with db.session.begin_nested():
                assign(document, actor, assignee, None)
        except HoldActionError as error:
            outcomes.append(Outcome(document.id, False, str(error)))
        else:
            outcomes.append(Outcome(document.id, True, "assigned"))
    return outcomes


# -- release ---------------------------------------------------------------------------------


def release(hold: Hold, actor: User, reason: str, version: int | None = None) -> Document:
    """Release one open hold (of the version the clerk saw); VALIDATED once nothing keeps the
    whole invoice back (a disputed line does not: `app.matching.queries.waits_on`).

    Releasing a DISPUTE hold accepts the supplier's line as billed. If the invoice was already
    booked without it, the line is booked on its own as a follow-up AP invoice (once: a fixed
    idempotency key, `app.posting.services.accept_withheld_line`); if not, the invoice is booked
    whole. When the supplier agrees the line was not owed it sends a credit note for it (booked
    as usual) and finance then releases the dispute: the line and the credit note cancel out,
    and the ERP's ledger matches the supplier's documents one for one."""
    _check_release(hold, actor, reason)
    if version is not None and hold.version != version:
        raise HoldChangedError("Someone else changed this hold a moment ago.")
    if hold.code in LINE_ONLY:
        locked_document(hold.document_id)  # not while a posting claim reads the disputes
    if release_open([hold.id], reason.strip(), released_by_id=actor.id, version=version) != 1:
        raise HoldChangedError("This hold was resolved by someone else a moment ago.")
    db.session.expire(hold)
    document = hold.document
    _audit("hold.released", document, actor, {"hold": hold.code.value, "reason": reason.strip()})
    if document.state == DocumentState.ON_HOLD and not waits_on(document):
        # The reason stays in the audit log: the timeline is also the supplier's to read.
        transition(document, DocumentState.VALIDATED, actor, "released by accounts payable")
    if hold.code in LINE_ONLY and accept_withheld_line(hold):
        _audit("invoice.line_accepted", document, actor, {"line": hold.line})
    return document


def _check_release(hold: Hold, actor: User, reason: str) -> None:
    if not reason.strip():
        raise HoldActionError("Say why the hold is released.")
    if hold.status != HoldStatus.OPEN:
        raise HoldChangedError(
            "This hold is already resolved: someone else acted on it a moment ago."
        )
    if not MANUAL_RELEASE.get(hold.code, True):
        raise HoldActionError(f"A {hold.code.value} hold releases itself when the facts change.")
    if _corrected_by(hold.document_id, actor):
        raise HoldActionError(
            "You corrected this invoice: another person must release its holds (four eyes)."
        )
    limit = Decimal(current_app.config["FINANCE_RELEASE_LIMIT"])
    if hold.amount_at_risk > limit and not actor.has_role(Role.FINANCE_MANAGER):
        raise HoldActionError(
            f"{hold.amount_at_risk:,.2f} is at risk, above the {limit:,.0f} a clerk may release: "
            "a finance manager must release it."
        )


def _corrected_by(document_id: int, actor: User) -> bool:
    query = select(Correction.id).where(
        Correction.document_id == document_id, Correction.actor_id == actor.id
    )
    return db.session.scalar(query.limit(1)) is not None


def bulk_release(document_ids: Iterable[int], actor: User, reason: str) -> list[Outcome]:
    """Release every open hold of each invoice with one reason; each hold is still checked on
    its own (manual-release flag, the manager's limit, four eyes). An invoice with a hold the
    actor may not release keeps it, and says why. A disputed line is never accepted in bulk:
    releasing it books its amount, a decision taken on its own."""
    if not reason.strip():
        raise HoldActionError("Say why the holds are released.")
    outcomes = []
    for document in _documents(document_ids):
        refused = []
        for hold in _open_holds(document.id):
            if hold.code in LINE_ONLY:
                refused.append(f"{hold.code.value}: settle a disputed line on its own page.")
                continue
            try:
                with db.session.begin_nested():
                    release(hold, actor, reason)
            except HoldActionError as error:
                refused.append(f"{hold.code.value}: {error}")
        done = not refused
        outcomes.append(Outcome(document.id, done, "released" if done else "; ".join(refused)))
    return outcomes


# -- reject ----------------------------------------------------------------------------------


def reject(
    document: Document, actor: User, reason_code: str, note: str, version: int | None = None
) -> None:
    """Send a held invoice back to its supplier with a reason code and a note it reads."""
    if reason_code not in REJECT_REASONS:
        raise HoldActionError("Choose a reason code.")
    if not note.strip():
        raise HoldActionError("Write a note for the supplier: it is what they will read.")
    if document.state != DocumentState.ON_HOLD:
        raise HoldChangedError(f"This invoice is {document.state.value} now, no longer held.")
    _bump(_claim(document, version))
    document.errors = [
        {
            "path": "$",
            "code": reason_code,
            "message": f"{REJECT_REASONS[reason_code]}: {note.strip()}",
        }
    ]
    _audit(
        "invoice.rejected_by_finance", document, actor, {"code": reason_code, "note": note.strip()}
    )
    transition(
        document, DocumentState.REJECTED, actor, f"{REJECT_REASONS[reason_code]} ({reason_code})"
    )


# -- correct, dispute, ask -------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A correction asked for: which field, on which line (None for the cost centre), to what."""

    field: str
    line_id: str | None
    value: str


def correct(
    document: Document, actor: User, change: Change, reason: str, version: int | None = None
) -> DocumentState:
    """Change one field (a line's PO line or quantity, the invoice's cost centre), keep the
    before and after, and check the invoice again at once. Whoever corrects it may not release
    its holds afterwards; holds that pass now stay open, "passes after correction by" them, for
    another person (and the manager's limit) to release."""
    _require_held(document, reason)
    field, line_id, value = change.field, change.line_id, change.value.strip()
    if field not in CORRECTABLE or not value:
        raise HoldActionError("Choose what to correct and give its new value.")
    review = _claim(document, version)
    before = _apply(document, field, line_id, value)
    _bump(review)
    db.session.add(
        Correction(
            document_id=document.id,
            actor_id=actor.id,
            field=field,
            line=line_id if field != "cost_centre" else None,
            before=before[:200] if before is not None else None,
            after=value[:200],
            reason=reason.strip(),
        )
    )
    details = {"field": field, "line": line_id, "before": before, "after": value}
    _audit("invoice.corrected", document, actor, details | {"reason": reason.strip()})
    return revalidate(document, actor)


def _apply(document: Document, field: str, line_id: str | None, value: str) -> str | None:
    if field == "cost_centre":
        before, document.cost_centre = document.cost_centre, value[:64]
        return before
    canonical = dict(document.canonical or {})
    lines = [dict(line) for line in canonical.get("lines", [])]
    line = next((line for line in lines if line.get("line_id") == line_id), None)
    if line is None:
        raise HoldActionError("Choose a line of this invoice.")
    if field == "po_line" and not value.isdigit():
        raise HoldActionError("A PO line is a number.")
    if field == "quantity" and not _positive(value):
        raise HoldActionError("A quantity is a number above zero.")
    before = line.get(field)
    line[field] = value
    canonical["lines"] = lines
    document.canonical = canonical  # a new object: the JSON column sees the change
    return str(before) if before is not None else None


def _positive(value: str) -> bool:
    try:
        return Decimal(value) > 0
    except InvalidOperation:
        return False


def dispute_line(
    document: Document, actor: User, line_id: str, reason: str, version: int | None = None
) -> Hold:
    """Hold one line's amount with a DISPUTE hold the supplier reads (which line and why) while
    the rest proceeds: once the invoice's other holds are worked it goes on to VALIDATED and is
    booked without the line (`app.posting.payload`), the line's amount still shown as held. A
    re-check never releases the dispute; a person does (see `release`)."""
    _require_held(document, reason)
    lines = (document.canonical or {}).get("lines", [])
    line = next((line for line in lines if line.get("line_id") == line_id), None)
    if line is None:
        raise HoldActionError("Choose a line of this invoice.")
    _bump(_claim(document, version))
    amount = Decimal(str(line.get("line_extension_amount") or 0))
    hold = Hold(
        document_id=document.id,
        code=HoldCode.DISPUTE,
        severity=Severity.HOLD,
        finance_message=f"Line {line_id} disputed by {actor.email}: {reason.strip()}",
        supplier_message=f"Line {line_id} ({line.get('description') or 'no description'}) is "
        f"disputed: {reason.strip()}. The rest of the invoice goes on to payment; this line's "
        "amount is held until the dispute is settled. If you agree, send a credit note for it.",
        expected="settled with the supplier",
        actual=f"{amount} billed",
        amount_at_risk=amount,
        line=line_id[:64],
    )
    db.session.add(hold)
    _audit("invoice.line_disputed", document, actor, {"line": line_id, "reason": reason.strip()})
    return hold


def ask(document: Document, actor: User, text: str, version: int | None = None) -> Question:
    """Ask the supplier a question it answers in the portal."""
    _require_held(document, text)
    _bump(_claim(document, version))
    question = Question(document_id=document.id, asked_by_id=actor.id, question=text.strip())
    db.session.add(question)
    db.session.flush()
    _audit("invoice.info_requested", document, actor, {"question": text.strip()})
    signals.info_requested.send(document.id)
    return question


def answer(question: Question, supplier_user: User, text: str) -> None:
    """The supplier's answer; the invoice is back with finance (its queue row says so)."""
    if not text.strip():
        raise HoldActionError("Write your answer.")
    if not question.waiting:
        raise HoldChangedError("This question was already answered.")
    question.answer = text.strip()
    question.answered_by_id = supplier_user.id
    question.answered_at = utcnow()
    document = question.document
    _bump(review_of(document))
    _audit("invoice.info_answered", document, supplier_user, {"question": question.id})


def comment(document: Document, actor: User, body: str) -> Comment:
    """An internal note: finance reads it, the supplier never does."""
    if not body.strip():
        raise HoldActionError("Write the comment.")
    note = Comment(document_id=document.id, author_id=actor.id, body=body.strip())
    db.session.add(note)
    _audit("invoice.commented", document, actor, {})
    return note


def _require_held(document: Document, reason: str) -> None:
    if not reason.strip():
        raise HoldActionError("Say why: it is kept with the action.")
    if document.state != DocumentState.ON_HOLD:
        raise HoldChangedError(f"This invoice is {document.state.value} now, no longer held.")


# -- helpers ---------------------------------------------------------------------------------


def _documents(document_ids: Iterable[int]) -> Sequence[Document]:
    ids = list(dict.fromkeys(document_ids))
    query = select(Document).where(Document.id.in_(ids), Document.kind == DocumentKind.INVOICE)
    return db.session.scalars(query.order_by(Document.id)).all()


def _open_holds(document_id: int) -> Sequence[Hold]:
    query = select(Hold).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
    return db.session.scalars(query.order_by(Hold.id)).all()


def _audit(action: str, document: Document, actor: User, details: dict) -> None:
    record(
        action,
        actor=actor,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details=details,
    )
