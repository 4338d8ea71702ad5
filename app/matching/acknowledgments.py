"""An acknowledgment's two stages: matched against its PO (NORMALIZED → VALIDATED, ON_HOLD for
the buyer, or REJECTED back to the supplier), then applied to the PO in the ERP (VALIDATED →
APPLIED). A held acknowledgment whose holds are released goes on to VALIDATED and so to apply.

Applying carries a deterministic Idempotency-Key (`ack-<document id>`, with the number of
earlier ERP refusals appended after a released refusal), so a retried job never applies the
same acknowledgment twice. An ERP that does not answer raises (the job backs off and retries);
an ERP that refuses makes an ERP_REJECTED hold with its reason.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.services import record
from app.canonical import Acknowledgment
from app.db import db
from app.documents import outbox
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.transitions import transition
from app.erp import get_erp
from app.erp.errors import ErpNotFound, ErpRejected
from app.matching import ack_rules
from app.matching.facts import AckCase, AckFacts, PoFacts, SupplierFacts
from app.matching.findings import Finding, HoldCode, Severity
from app.matching.models import Hold, HoldStatus, release_open
from app.matching.queries import holds_of
from app.matching.services import SYSTEM, conclude, purchase_order
from app.orgs.models import Organization, OrgStatus
from app.pipeline import APPLY_ACK, MATCH_ACK

ERP_STATUS = {
    "accepted": "accepted",
    "rejected": "rejected",
    "changed": "changed",
    "accepted_with_changes": "changed",
}
ERP_LINE_STATUS = {"accept": "accepted", "reject": "rejected", "change": "changed"}


def _is_waiting(document: Document, state: DocumentState) -> bool:
    return document.kind == DocumentKind.ACKNOWLEDGMENT and document.state == state


# -- matching ---------------------------------------------------------------------------------


def match(document: Document) -> DocumentState:
    """NORMALIZED → VALIDATED, ON_HOLD or REJECTED; any other state is left alone (a repeated
    job). ErpError propagates when the ERP cannot answer: the job is retried, nothing changed."""
    if _is_waiting(document, DocumentState.NORMALIZED):
        case = _case(document)
        _conclude(document, case, ack_rules.check(case))
    outbox.complete(document.id, MATCH_ACK)
    return document.state


def _case(document: Document) -> AckCase:
    ack = AckFacts.from_acknowledgment(Acknowledgment.model_validate(document.canonical))
    order = purchase_order(ack.po_number)
    return AckCase(
        ack=ack,
        po=PoFacts.from_erp(order) if order else None,
        supplier=_supplier(document.supplier or document.sender),
    )


def _supplier(org: Organization) -> SupplierFacts:
    return SupplierFacts(
        vendor_number=org.erp_vendor_number,
        active=org.is_active,
        suspended=org.status == OrgStatus.SUSPENDED,
    )


def _conclude(document: Document, case: AckCase, findings: list[Finding]) -> None:
    if not any(f.severity is Severity.REJECT for f in findings):
        _record_rejected_lines(document, case)
    conclude(
        document,
        findings,
        matched=f"matched: {ack_rules.summary(case)}",
        held="changes held for the buyer",
    )


def _record_rejected_lines(document: Document, case: AckCase) -> None:
    rejected = ack_rules.rejected_lines(case)
    if rejected:
        record(
            "acknowledgment.lines_rejected",
            actor_label=SYSTEM,
            organization_id=document.supplier_org_id or document.sender_org_id,
            target=document,
            details={
                "po_number": case.ack.po_number,
                "lines": [{"po_line": line.label, "reason": line.reason} for line in rejected],
            },
        )


# -- applying to the ERP ----------------------------------------------------------------------


def apply(document: Document) -> DocumentState:
    """VALIDATED → APPLIED once the ERP has the acknowledgment on its PO, or ON_HOLD with an
    ERP_REJECTED hold when the ERP refuses it. ErpUnavailable propagates: nothing changed, the
    job backs off and tries again with the same key."""
    if _is_waiting(document, DocumentState.VALIDATED):
        _apply(document, Acknowledgment.model_validate(document.canonical))
    outbox.complete(document.id, APPLY_ACK)
    return document.state


def _apply(document: Document, ack: Acknowledgment) -> None:
    try:
        applied = get_erp().acknowledge_po(
            ack.po_number,
            erp_payload(ack, skip_lines=_unmatched_lines(document)),
            idempotency_key=apply_key(document),
            correlation_id=g.get("correlation_id"),
        )
    except (ErpRejected, ErpNotFound) as exc:
        _refused(document, str(exc))
        return
    transition(
        document,
        DocumentState.APPLIED,
        SYSTEM,
        f"applied to purchase order {ack.po_number} in the ERP",
        details={"erp_acknowledgment_id": applied.id},
    )


def apply_key(document: Document) -> str:
    """The same key for every try of one application; a new one after a refusal was released
    (the ERP answers a key's first outcome forever, refusals included)."""
    refusals = db.session.scalar(
        select(func.count()).where(
            Hold.document_id == document.id, Hold.code == HoldCode.ERP_REJECTED
        )
    )
    return f"ack-{document.id}" + (f"-{refusals}" if refusals else "")


def _unmatched_lines(document: Document) -> frozenset[str]:
    """Lines held as LINE_UNMATCHED (the PO has no such line): the buyer released them, so the
    rest is applied without them."""
    query = select(Hold.line).where(
        Hold.document_id == document.id, Hold.code == HoldCode.LINE_UNMATCHED
    )
    return frozenset(line for line in db.session.scalars(query) if line)


def erp_payload(ack: Acknowledgment, skip_lines: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The acknowledgment as the ERP's PO acknowledgment API takes it."""
    note = ack.reason or "; ".join(ack.notes) or None
    return {
        "status": ERP_STATUS[ack.status],
        "reference": ack.ack_number[:64],
        "note": note[:1000] if note else None,
        "lines": [
            {
                "line_number": int(line.po_line),
                "status": ERP_LINE_STATUS[line.status],
                "quantity": line.changed_quantity or None,
                "unit_price": line.changed_unit_price,
                "promised_date": line.changed_delivery_date,
            }
            for line in ack.lines
            if line.po_line.strip().isdigit() and line.po_line not in skip_lines
        ],
    }


def _refused(document: Document, reason: str) -> None:
    db.session.add(
        Hold(
            document_id=document.id,
            code=HoldCode.ERP_REJECTED,
            severity=Severity.HOLD,
            finance_message=f"The ERP refused the acknowledgment: {reason}",
            supplier_message="The hospital's system could not record this acknowledgment; "
            "the buyer is looking at it.",
            actual=reason[:200],
        )
    )
    transition(
        document,
        DocumentState.ON_HOLD,
        SYSTEM,
        "the ERP refused it",
        details={"holds": [HoldCode.ERP_REJECTED.value], "erp_reason": reason},
    )


# -- the buyer's decision on held changes -----------------------------------------------------


class AckDecisionError(ValueError):
    """A decision the buyer cannot take now; the message says why."""


def held_acknowledgments() -> list[Document]:
    """Acknowledgments waiting for the buyer, oldest first."""
    query = (
        select(Document)
        .where(
            Document.kind == DocumentKind.ACKNOWLEDGMENT,
            Document.state == DocumentState.ON_HOLD,
        )
        .order_by(Document.id)
        .limit(200)
    )
    return list(db.session.scalars(query))


def held_acknowledgment(document_id: int) -> Document | None:
    query = select(Document).where(
        Document.id == document_id, Document.kind == DocumentKind.ACKNOWLEDGMENT
    )
    return db.session.scalar(query.with_for_update(of=Document))


def accept_changes(document: Document, actor: User, reason: str) -> None:
    """The buyer accepts the supplier's changes: every open hold is released (a conditional
    update: of two buyers at once, one decides) and the acknowledgment goes on to be applied."""
    if not reason.strip():
        raise AckDecisionError("Say why the changes are accepted.")
    if document.state != DocumentState.ON_HOLD:
        raise AckDecisionError(f"This acknowledgment is {document.state.value} now, not held.")
    open_ids = [h.id for h in holds_of(document.id) if h.status == HoldStatus.OPEN]
    if release_open(open_ids, reason.strip(), released_by_id=actor.id) != len(open_ids):
        raise AckDecisionError("Someone else decided on this acknowledgment a moment ago.")
    _audit_decision("acknowledgment.changes_accepted", document, actor, reason)
    transition(document, DocumentState.VALIDATED, actor, "the buyer accepted the changes")


def reject_changes(document: Document, actor: User, note: str) -> None:
    """The buyer refuses the changes: the acknowledgment goes back to the supplier with a note."""
    if not note.strip():
        raise AckDecisionError("Write a note for the supplier: it is what they will read.")
    if document.state != DocumentState.ON_HOLD:
        raise AckDecisionError(f"This acknowledgment is {document.state.value} now, not held.")
    document.errors = [{"path": "$", "code": "CHANGES_REFUSED", "message": note.strip()}]
    _audit_decision("acknowledgment.changes_refused", document, actor, note)
    transition(document, DocumentState.REJECTED, actor, "the buyer did not accept the changes")


def _audit_decision(action: str, document: Document, actor: User, reason: str) -> None:
    record(
        action,
        actor=actor,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={"reason": reason.strip(), "po_number": document.po_number},
    )
