"""An invoice's whole story for finance, in one list and in time order: the states it went
through (its document events) and everything people and the system did to it on the way
(its audit entries: assignments, releases, corrections, disputes, questions, rejections,
self-releases on a re-check, replays), with the comments and the supplier's answers, each in
words. The document events are also the supplier's timeline; this one is finance's only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentState
from app.holds.models import Comment, Question

STATE_WORDS = {
    DocumentState.RECEIVED: "Received",
    DocumentState.NORMALIZED: "Read and normalized",
    DocumentState.VALIDATED: "Validated",
    DocumentState.ON_HOLD: "Held",
    DocumentState.POSTING: "Sent to the ERP",
    DocumentState.POSTED: "Posted in the ERP",
    DocumentState.PAID: "Paid",
    DocumentState.APPLIED: "Applied to the PO",
    DocumentState.REJECTED: "Rejected",
    DocumentState.DEAD: "Given up on (with integration ops)",
}
CORRECTED_FIELDS = {
    "po_line": "the PO line",
    "quantity": "the quantity",
    "cost_centre": "the cost centre",
}
# Audit actions told by another entry of the timeline: a person's state change is its document
# event; a comment and an answer come with their text from their own rows.
TOLD_ELSEWHERE = frozenset({"invoice.commented", "invoice.info_answered"})


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    who: str
    what: str
    detail: str = ""
    kind: str = "action"  # "state", "action", "comment" or "answer": how the page marks it
    order: int = 0  # among entries of the same instant: states after the actions that led there
    state: str | None = None  # the state's code (ON_HOLD), as the API and the ops console name it


def whole_timeline(document: Document) -> list[Entry]:
    """Every state and action of the invoice, oldest first."""
    audited = _audit_entries(document.id)
    entries = [*_states(document.timeline), *_actions(audited)]
    entries += _comments(document.id) + _answers(document.id, _answerers(audited))
    return sorted(entries, key=lambda entry: (entry.at, entry.order))


def _states(events: Iterable[DocumentEvent]) -> list[Entry]:
    return [
        Entry(
            e.at,
            e.actor_label,
            STATE_WORDS.get(e.to_state, e.to_state.value),
            e.reason,
            kind="state",
            order=1,
            state=e.to_state.value,
        )
        for e in events
    ]


def _audit_entries(document_id: int) -> Sequence[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.target_type == "Document", AuditEntry.target_id == str(document_id))
        .order_by(AuditEntry.id)
    )
    return db.session.scalars(query).all()


def _actions(entries: Iterable[AuditEntry]) -> list[Entry]:
    return [
        Entry(entry.at, entry.actor_label, *described(entry.action, entry.details or {}))
        for entry in entries
        if entry.action not in TOLD_ELSEWHERE and not _state_change(entry.action)
    ]


def _state_change(action: str) -> bool:
    """`document.validated` and the like: written with a person's transition, which the
    document events already show."""
    kind, _, name = action.partition(".")
    return kind == "document" and name.upper() in DocumentState.__members__


Details = Mapping[str, Any]
# Each audited action in words: what was done, and its reason or note.
ACTIONS: dict[str, Callable[[Details], tuple[str, str]]] = {
    "invoice.assigned": lambda d: (f"Assigned to {d.get('assignee') or 'nobody'}", ""),
    "hold.released": lambda d: (f"Released the {_code(d.get('hold'))} hold", _text(d, "reason")),
    "hold.released_by_recheck": lambda d: (
        f"Released {', '.join(_code(c) for c in d.get('holds') or [])} by itself: "
        "the rule passes on a new check",
        "",
    ),
    "invoice.corrected": lambda d: (_correction(d), _text(d, "reason")),
    "invoice.line_disputed": lambda d: (f"Disputed line {d.get('line')}", _text(d, "reason")),
    "invoice.info_requested": lambda d: ("Asked the supplier", _text(d, "question")),
    "invoice.rejected_by_finance": lambda d: (
        f"Sent back to the supplier ({d.get('code')})",
        _text(d, "note"),
    ),
    "posting.replayed": lambda d: ("Replayed from the dead letters", _text(d, "reason")),
    "document.reconciled": lambda d: ("Picked up again by the reconciler", ""),
    "document.rejected_by_rules": lambda d: ("Rejected by the checks", _findings(d)),
    "invoice.line_accepted": lambda d: (
        f"Accepted disputed line {d.get('line')}: it is booked on its own",
        "",
    ),
    "invoice.line_posted": lambda d: (
        f"Disputed line {d.get('line')} posted once settled",
        _line_booked(d),
    ),
    "invoice.line_refused": lambda d: (
        f"Disputed line {d.get('line')} refused by the ERP",
        _text(d, "error"),
    ),
    "invoice.line_paid": lambda d: (f"Disputed line {d.get('line')} paid", _line_paid(d)),
}


def described(action: str, details: Details) -> tuple[str, str]:
    """What an audited action was, and its reason or note, in words (an action without words
    of its own: its name, made readable)."""
    if action in ACTIONS:
        return ACTIONS[action](details)
    words = action.rpartition(".")[2].replace("_", " ")
    return words[:1].upper() + words[1:], _text(details, "reason")


def _correction(details: Details) -> str:
    field = CORRECTED_FIELDS.get(str(details.get("field")), str(details.get("field")))
    where = f" of line {details['line']}" if details.get("line") else ""
    before = details.get("before") or "—"
    return f"Corrected {field}{where}: {before} → {details.get('after')}"


def _line_booked(details: Details) -> str:
    amount = f"{_money(details.get('amount'))} " if details.get("amount") else ""
    return f"{amount}booked in the ERP as {details.get('ap_invoice_id')}"


def _line_paid(details: Details) -> str:
    """What the ERP paid for the line (its tax included), else the line's amount held."""
    paid = details.get("paid_amount") or details.get("amount")
    amount = f"{_money(paid)} " if paid else ""
    reference = details.get("reference") or "none"
    return f"{amount}paid on {details.get('paid_on')}, reference {reference}"


def _money(value: Any) -> str:
    """An amount as stored (the database's fixed scale: 40.000000) as it is printed: 40.00."""
    try:
        return f"{Decimal(str(value)):.2f}"
    except ArithmeticError:
        return str(value)


def _findings(details: Details) -> str:
    """Finance's wording of each business reject (the supplier read its own in the state)."""
    findings = details.get("findings") or []
    return "; ".join(f"{_code(f.get('code'))}: {f.get('finance')}" for f in findings)


def _code(code: Any) -> str:
    return str(code or "").replace("_", " ")


def _text(details: Details, key: str) -> str:
    value = details.get(key)
    return "" if value is None else str(value)


def _comments(document_id: int) -> list[Entry]:
    query = select(Comment).where(Comment.document_id == document_id)
    return [
        Entry(c.created_at, c.author.email, "Commented (internal)", c.body, "comment")
        for c in db.session.scalars(query)
    ]


def _answerers(audited: Iterable[AuditEntry]) -> dict[int, str]:
    """Who sent each answer as the audit log names them: a user, or the API client that
    answered for the supplier (an answer through the API has no user)."""
    return {
        int(entry.details["question"]): entry.actor_label
        for entry in audited
        if entry.action == "invoice.info_answered" and (entry.details or {}).get("question")
    }


def _answers(document_id: int, answerers: Mapping[int, str]) -> list[Entry]:
    query = (
        select(Question, User.email)
        .outerjoin(User, User.id == Question.answered_by_id)
        .where(Question.document_id == document_id, Question.answered_at.is_not(None))
    )
    return [
        Entry(
            q.answered_at,
            email or answerers.get(q.id, "the supplier's API client"),
            "The supplier answered",
            q.answer or "",
            "answer",
        )
        for q, email in db.session.execute(query)
        if q.answered_at is not None
    ]
