"""The one function that changes a document's state, and the table of changes it allows.

`receive` gives a new document its first state; `transition` makes every change after that.
Every change writes the timeline entry the sender sees, an audit entry when a person made it,
and the event that the pipeline turns into the next job (`app/pipeline.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.documents import outbox, storage
from app.documents.models import Document, DocumentEvent, DocumentKind, DocumentState
from app.orgs.roles import STAFF_ROLES
from app.pipeline import Transitioned, document_transitioned, event_name, next_step

S = DocumentState

# Every document starts RECEIVED (see `receive`); from there only these changes exist.
ALLOWED: dict[DocumentState, frozenset[DocumentState]] = {
    S.RECEIVED: frozenset({S.NORMALIZED, S.REJECTED}),
    S.NORMALIZED: frozenset({S.VALIDATED, S.ON_HOLD, S.REJECTED}),
    S.ON_HOLD: frozenset({S.VALIDATED, S.REJECTED}),
    S.VALIDATED: frozenset({S.POSTING, S.APPLIED, S.ON_HOLD}),
    S.POSTING: frozenset({S.POSTED, S.ON_HOLD, S.DEAD}),
    S.DEAD: frozenset({S.POSTING}),  # an ops replay
    S.POSTED: frozenset({S.PAID}),
    S.PAID: frozenset(),
    S.APPLIED: frozenset(),
    S.REJECTED: frozenset(),
}

# States that only make sense for one kind of document.
KIND_ONLY: dict[DocumentState, DocumentKind] = {
    S.POSTING: DocumentKind.INVOICE,
    S.POSTED: DocumentKind.INVOICE,
    S.PAID: DocumentKind.INVOICE,
    S.DEAD: DocumentKind.INVOICE,
    S.APPLIED: DocumentKind.ACKNOWLEDGMENT,
}

TERMINAL = frozenset(state for state, targets in ALLOWED.items() if not targets)

# Who changed it: a signed-in user, or a label such as "api client 3f2a…" or "system".
Actor = User | str | None


class InvalidTransition(Exception):  # noqa: N818 - reads as the domain rule it enforces
    def __init__(self, document: Document, to_state: DocumentState) -> None:
        current = document.state.value if document.state else "new"
        super().__init__(f"document {document.id} cannot go from {current} to {to_state.value}")


def can_transition(document: Document, to_state: DocumentState) -> bool:
    allowed = document.state is not None and to_state in ALLOWED[document.state]
    return allowed and KIND_ONLY.get(to_state, document.kind) == document.kind


def actor_label(actor: Actor) -> str:
    if isinstance(actor, User):
        return actor.email
    return actor or "system"


# Who a change was made by, as a supplier or partner reads its timeline: the hospital's staff
# act as one team, never by name or email.
STAFF_LABEL = "Accounts payable"


def outside_label(event: DocumentEvent) -> str:
    """The actor of a timeline entry as the sender reads it (the portal page and the API): a
    staff member (finance, procurement, ops) is "Accounts payable"; the system, an API client
    or one of the sender's own people keep their label."""
    if event.actor_user_id is None:
        return event.actor_label
    user = db.session.get(User, event.actor_user_id)
    if user is not None and user.has_role(*STAFF_ROLES):
        return STAFF_LABEL
    return event.actor_label


# What the sender reads for a move whose reason is the hospital's own (an ERP error, an ops
# replay note): the ops pages and finance's timeline keep the reason as written.
OUTSIDE_REASONS = {
    S.DEAD: "delayed on our side: the hospital's team is on it",
}
REPLAYED_OUTSIDE = "sent to the hospital's accounting system again"


def outside_reason(event: DocumentEvent) -> str:
    """A timeline entry's reason as the sender reads it (the portal page and the API)."""
    if event.from_state == S.DEAD:
        return REPLAYED_OUTSIDE
    return OUTSIDE_REASONS.get(event.to_state, event.reason)


@dataclass(frozen=True)
class Received:
    """A document as `receive` stored it: what the answer and listeners need, without
    loading the row back."""

    id: int
    kind: DocumentKind
    state: DocumentState
    identity: str
    payload_index: int
    sender_org_id: int
    supplier_org_id: int | None


def receive(
    payload: dict[str, Any], new: Sequence[dict[str, Any]], actor: Actor, reason: str
) -> list[Received]:
    """Enter new documents in RECEIVED: the payload they came in (its `raw_payloads` values),
    their rows (`storage.DOCUMENT_COLUMNS`), each one's first timeline entry and the event that
    owes it its first job. Written by `storage.insert_received` (one statement on PostgreSQL);
    later transitions load their document and go through `transition`.

    Receipt writes no audit entry: the stored payload (sha256, sender, client, correlation id)
    already records it immutably, and an audit append per document would make every intake
    in every web process queue behind the audit chain's one lock. Every later change audits.
    """
    if not new:
        return []
    event = event_name(S.RECEIVED.value)
    kinds = {row["kind"] for row in new}
    if len(kinds) > 1:
        raise ValueError("one submission holds one kind of document")
    step = next_step(event, str(kinds.pop()))
    timeline = {
        "actor_label": actor_label(actor),
        "actor_user_id": actor.id if isinstance(actor, User) else None,
        "reason": reason,
    }
    ids = storage.insert_received(storage.NewRows(payload, new, timeline, step, utcnow()))
    received = [
        Received(
            id=document_id,
            kind=row["kind"],
            state=S.RECEIVED,
            identity=row["identity"],
            payload_index=row["payload_index"],
            sender_org_id=row["sender_org_id"],
            supplier_org_id=row["supplier_org_id"],
        )
        for document_id, row in zip(ids, new, strict=True)
    ]
    if step is not None:
        outbox.enqueue_after_commit(ids, step)  # the outbox rows are already written
    for document in received:
        document_transitioned.send(
            Transitioned(
                event,
                document.id,
                document.kind.value,
                None,
                S.RECEIVED.value,
                document.sender_org_id,
                document.supplier_org_id,
            )
        )
    return received


def transition(
    document: Document,
    to_state: DocumentState,
    actor: Actor,
    reason: str,
    details: dict[str, Any] | None = None,
) -> DocumentEvent:
    """Move `document` to `to_state`: timeline, audit entry, event and the next job, if any."""
    if not can_transition(document, to_state):
        raise InvalidTransition(document, to_state)
    from_state, document.state = document.state, to_state
    entry = _timeline(document, from_state, to_state, actor, reason)
    _audit(document, from_state, actor, reason, details)
    _emit(document, from_state, event_name(to_state.value))
    return entry


def _timeline(
    document: Document,
    from_state: DocumentState | None,
    to_state: DocumentState,
    actor: Actor,
    reason: str,
) -> DocumentEvent:
    entry = DocumentEvent(
        document=document,
        from_state=from_state,
        to_state=to_state,
        actor_label=actor_label(actor),
        actor_user_id=actor.id if isinstance(actor, User) else None,
        reason=reason,
    )
    db.session.add(entry)
    return entry


def _audit(
    document: Document,
    from_state: DocumentState | None,
    actor: Actor,
    reason: str,
    details: dict[str, Any] | None,
) -> None:
    """A person's change goes to the audit log; the pipeline's own changes (and a sender's
    submission) are recorded by the timeline entry alone. The audit log is one hash chain
    appended under one lock, and a stage job taking it for every document would make every
    worker in every process wait for each other."""
    if not isinstance(actor, User):
        return
    record(
        f"document.{document.state.value.lower()}",
        actor=actor,
        actor_label=actor_label(actor),
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={
            "from": from_state.value if from_state else None,
            "to": document.state.value,
            "reason": reason,
            **(details or {}),
        },
    )


def _emit(document: Document, from_state: DocumentState | None, event: str) -> None:
    step = next_step(event, document.kind.value)
    if step is not None:
        outbox.schedule([document.id], step)
    document_transitioned.send(
        Transitioned(
            event,
            document.id,
            document.kind.value,
            from_state.value if from_state else None,
            document.state.value,
            document.sender_org_id,
            document.supplier_org_id,
        )
    )
