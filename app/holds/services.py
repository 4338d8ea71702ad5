"""What finance does with a held invoice. Every action needs a reason and is audited.

Releasing a hold marks it released only if it is still open (a conditional UPDATE): of two
clerks acting at once one wins and the other is told the hold changed, so nothing is applied
twice. When the last open hold is released the invoice goes on to VALIDATED. Rejecting sends the
invoice back to the supplier with a Peppol invoice-response reason code and a note it reads.
"""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.services import record
from app.db import db
from app.documents.models import Document, DocumentState
from app.documents.transitions import transition
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus, release_open
from app.orgs.roles import Role

# Holds a person may not release: the facts must change (the supplier reactivated).
NOT_RELEASABLE = frozenset({HoldCode.SUPPLIER_INACTIVE})
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


class HoldActionError(ValueError):
    """An action finance may not take on this hold or invoice; the message says why."""


class HoldChangedError(HoldActionError):
    """Someone else acted on it first."""


def release(hold: Hold, actor: User, reason: str) -> Document:
    """Release one open hold; VALIDATED once no open hold remains."""
    _check_release(hold, actor, reason)
    if release_open([hold.id], reason.strip(), released_by_id=actor.id) != 1:
        raise HoldChangedError("This hold was resolved by someone else a moment ago.")
    db.session.expire(hold)
    document = hold.document
    _audit("hold.released", document, actor, {"hold": hold.code.value, "reason": reason.strip()})
    if _open_count(document.id) == 0 and document.state == DocumentState.ON_HOLD:
        # The reason stays in the audit log: the timeline is also the supplier's to read.
        transition(document, DocumentState.VALIDATED, actor, "released by accounts payable")
    return document


def _check_release(hold: Hold, actor: User, reason: str) -> None:
    if not reason.strip():
        raise HoldActionError("Say why the hold is released.")
    if hold.status != HoldStatus.OPEN:
        raise HoldChangedError("This hold is already resolved.")
    if hold.code in NOT_RELEASABLE:
        raise HoldActionError(f"A {hold.code.value} hold releases itself when the facts change.")
    limit = Decimal(current_app.config["FINANCE_RELEASE_LIMIT"])
    if hold.amount_at_risk > limit and not actor.has_role(Role.FINANCE_MANAGER):
        raise HoldActionError(
            f"{hold.amount_at_risk:,.2f} is at risk, above the {limit:,.0f} a clerk may release: "
            "a finance manager must release it."
        )


def reject(document: Document, actor: User, reason_code: str, note: str) -> None:
    """Send a held invoice back to its supplier with a reason code and a note it reads."""
    if reason_code not in REJECT_REASONS:
        raise HoldActionError("Choose a reason code.")
    if not note.strip():
        raise HoldActionError("Write a note for the supplier: it is what they will read.")
    if document.state != DocumentState.ON_HOLD:
        raise HoldChangedError(f"This invoice is {document.state.value} now, no longer held.")
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


def _open_count(document_id: int) -> int:
    query = select(func.count()).where(
        Hold.document_id == document_id, Hold.status == HoldStatus.OPEN
    )
    return db.session.scalar(query) or 0


def _audit(action: str, document: Document, actor: User, details: dict) -> None:
    record(
        action,
        actor=actor,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details=details,
    )
