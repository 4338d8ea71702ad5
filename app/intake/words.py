"""What a document's state means to the supplier who sent it, in plain words.

One entry per state in STATE_WORDS, each a function of the document (so a state can name its
reason, its date or its payment reference). SITUATIONS come first: a situation that applies
(an open question from accounts payable, say) speaks instead of the state's entry; another
capability adds its own with `situation`. Nothing here reads finance's internal wording.
"""

from __future__ import annotations

from collections.abc import Callable

from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState

Words = Callable[[Document], str]
# A situation answers (short label, sentence) when it applies to the document, else None; e.g.
# an open question from accounts payable: ("needs your answer", "Needs your answer: ...").
Situation = Callable[[Document], tuple[str, str] | None]

SITUATIONS: list[Situation] = []


def situation(check: Situation) -> Situation:
    """Register a situation that, when it applies, describes a document instead of its state."""
    SITUATIONS.append(check)
    return check


# The state in two or three words, for lists (the vocabulary for suppliers).
STATE_LABELS: dict[DocumentState, str] = {
    DocumentState.RECEIVED: "received",
    DocumentState.NORMALIZED: "received",
    DocumentState.VALIDATED: "approved",
    DocumentState.ON_HOLD: "in review",
    DocumentState.REJECTED: "rejected",
    DocumentState.POSTING: "approved",
    DocumentState.POSTED: "posted",
    DocumentState.PAID: "paid",
    DocumentState.APPLIED: "applied",
    DocumentState.DEAD: "approved, delayed",
}


def _entered(document: Document, state: DocumentState) -> DocumentEvent | None:
    """The timeline entry that brought the document into `state` (the latest one)."""
    return next((e for e in reversed(document.timeline) if e.to_state == state), None)


def _rejected(document: Document) -> str:
    reasons = [error["message"] for error in document.errors if error.get("message")]
    if not reasons and (event := _entered(document, DocumentState.REJECTED)) and event.reason:
        reasons = [event.reason]
    why = "; ".join(reasons) if reasons else "see the timeline below"
    what = (
        "send a corrected invoice or a credit note for it (the buttons below)"
        if document.kind == DocumentKind.INVOICE and document.canonical
        else "correct the document and send it again"
    )
    return f"Rejected: {why}. What to do: {what}."


def _paid(document: Document) -> str:
    # Payment sync records the ERP's payment date and reference on the document (the posting
    # change adds `paid_on` and `payment_reference`); without them the timeline says when.
    paid_on = document.paid_on
    if paid_on is not None:
        reference = document.payment_reference or "none given"
        return f"Paid on {paid_on.isoformat()}, reference {reference}."
    event = _entered(document, DocumentState.PAID)
    if event is None:
        return "Paid."
    reference = f" ({event.reason})" if event.reason else ""
    return f"Paid on {event.at.date().isoformat()}{reference}."


def _posted(document: Document) -> str:
    event = _entered(document, DocumentState.POSTED)
    when = f" on {event.at.date().isoformat()}" if event else ""
    return f"Posted to the hospital's ledger{when}: waiting for the payment run."


STATE_WORDS: dict[DocumentState, Words] = {
    DocumentState.RECEIVED: lambda _: "Received: we are reading it.",
    DocumentState.NORMALIZED: lambda _: "Received: it is being checked against the purchase order.",
    DocumentState.VALIDATED: lambda _: (
        "Approved: it matches the purchase order and goes on to payment."
    ),
    DocumentState.ON_HOLD: lambda _: (
        "In review: the hospital's accounts payable team is looking at it (why is listed "
        "below). You need not do anything unless they ask."
    ),
    DocumentState.REJECTED: _rejected,
    DocumentState.POSTING: lambda _: "Approved: being entered in the hospital's accounts.",
    DocumentState.POSTED: _posted,
    DocumentState.PAID: _paid,
    DocumentState.APPLIED: lambda _: "Applied to the purchase order.",
    DocumentState.DEAD: lambda _: "Approved, delayed on our side: the hospital's team is on it.",
}


def _situation(document: Document) -> tuple[str, str] | None:
    return next((said for check in SITUATIONS if (said := check(document)) is not None), None)


# An acknowledgment's states read differently: it is matched and recorded, never paid.
ACK_STATE_WORDS: dict[DocumentState, Words] = STATE_WORDS | {
    DocumentState.NORMALIZED: lambda _: "Read: it is being matched against the purchase order.",
    DocumentState.VALIDATED: lambda _: (
        "Accepted: it matches the purchase order and is being recorded on it in the "
        "hospital's system."
    ),
    DocumentState.ON_HOLD: lambda _: (
        "With the buyer: your changes (listed below) wait for the buyer to accept them. You "
        "need not do anything unless they ask."
    ),
    DocumentState.APPLIED: lambda _: "Recorded on the purchase order in the hospital's system.",
}
ACK_STATE_LABELS = STATE_LABELS | {
    DocumentState.VALIDATED: "accepted",
    DocumentState.ON_HOLD: "with the buyer",
    DocumentState.APPLIED: "recorded",
}


def state_words(document: Document) -> str:
    """The one sentence the supplier reads at the top of the document's page."""
    said = _situation(document)
    if said:
        return said[1]
    words = ACK_STATE_WORDS if document.kind == DocumentKind.ACKNOWLEDGMENT else STATE_WORDS
    return words[document.state](document)


def state_label(document: Document) -> str:
    """The state in a few words, for the supplier's lists."""
    said = _situation(document)
    if said:
        return said[0]
    labels = ACK_STATE_LABELS if document.kind == DocumentKind.ACKNOWLEDGMENT else STATE_LABELS
    return labels[document.state]
