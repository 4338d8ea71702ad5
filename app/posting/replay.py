"""Replay of DEAD invoices by ops: back to POSTING and through the same idempotent post job,
so a replay can never book an invoice twice (the key is the document's; an unknown last
outcome is looked up first)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.audit.services import record
from app.db import db
from app.documents import outbox
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.transitions import Actor, actor_label, transition
from app.pipeline import POST
from app.posting.queries import REPLAYED, why_it_died


class ReplayError(ValueError):
    """A replay asked without a reason."""


def replay(document_ids: Iterable[int], *, actor: Actor, reason: str) -> list[int]:
    """Replay each DEAD invoice among `document_ids`; answers the ids replayed (others, not
    DEAD or not invoices, are skipped). Each one is audited with the reason."""
    reason = reason.strip()
    if not reason:
        raise ReplayError("a replay needs a reason")
    ids = sorted({int(i) for i in document_ids})
    dead = db.session.scalars(
        select(Document)
        .where(
            Document.id.in_(ids),
            Document.state == DocumentState.DEAD,
            Document.kind == DocumentKind.INVOICE,
        )
        .order_by(Document.id)
        .with_for_update()
    ).all()
    for document in dead:
        died = why_it_died(document.id)
        entry = record(
            REPLAYED,
            actor=actor if not isinstance(actor, str) else None,
            actor_label=actor_label(actor),
            organization_id=document.supplier_org_id or document.sender_org_id,
            target=document,
            details={"reason": reason, "died_because": died},
        )
        # The timeline names the replay (its audit entry) and the dead letter it came from.
        note = f"replay (audit entry #{entry.id}) of a dead letter ({died}): {reason}"
        transition(document, DocumentState.POSTING, actor, note)
    replayed = [document.id for document in dead]
    if replayed:
        outbox.schedule(replayed, POST)
    return replayed
