"""The validate stage's use case: gather the facts an invoice is checked against (its PO and
receipts from the ERP, what earlier invoices on that PO billed, the supplier's verified bank
details, earlier invoice numbers), run the rules, and move the document on: VALIDATED when
nothing was found, ON_HOLD with one hold per finding, REJECTED when a finding leaves nothing
for finance to decide.

Validation of one supplier's invoices is serialized (a transaction-scoped lock per supplier),
so two invoices checked at once still see each other as duplicates or as earlier billing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import structlog
from flask import current_app, g
from sqlalchemy import func, select, update

from app.audit.services import record
from app.canonical import Invoice
from app.db import advisory_xact_lock, db, utcnow
from app.documents import outbox
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.queries import locked_document
from app.documents.transitions import Actor, transition
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.erp.interface import PurchaseOrder
from app.matching import duplicates, rules
from app.matching.facts import Case, Context, History, InvoiceFacts, PoFacts, SupplierFacts
from app.matching.findings import SET_BY_PEOPLE, Finding, Severity
from app.matching.models import Hold, HoldStatus, release_open
from app.matching.queries import holds_of
from app.matching.tolerance_templates import template_for
from app.onboarding.models import BankAccount, BankStatus
from app.orgs.models import Organization, OrgStatus
from app.pipeline import VALIDATE

log = structlog.get_logger(__name__)

SYSTEM = "system"
RECHECK_BATCH = 20  # held invoices re-checked per sweep
LOCK_NAMESPACE = 7_400_009
# Earlier documents that count as billed against a PO: everything accepted for AP.
BILLED = (
    DocumentState.VALIDATED,
    DocumentState.ON_HOLD,
    DocumentState.POSTING,
    DocumentState.POSTED,
    DocumentState.PAID,
    DocumentState.DEAD,
)


def validate(document: Document) -> DocumentState:
    """NORMALIZED → VALIDATED, ON_HOLD or REJECTED; any other state is left alone (a repeated
    job). ErpError propagates when the ERP cannot answer: the job is retried, nothing changed."""
    if document.state == DocumentState.NORMALIZED:
        if document.kind == DocumentKind.INVOICE:
            _validate_invoice(document)
        else:
            # Acknowledgments are matched against their PO by a later change; until then they
            # pass as they are.
            transition(document, DocumentState.VALIDATED, SYSTEM, "acknowledgment recorded")
    outbox.complete(document.id, VALIDATE)
    return document.state


def _validate_invoice(document: Document) -> None:
    invoice = Invoice.model_validate(document.canonical)
    supplier = document.supplier or document.sender
    advisory_xact_lock(LOCK_NAMESPACE * 1_000_003 + supplier.id)
    _remember_identity(document, invoice)
    _conclude(document, _findings(document, invoice, supplier))


def _findings(document: Document, invoice: Invoice, supplier: Organization) -> list[Finding]:
    order = purchase_order(document.po_number)
    document.facility_code = order.facility_code[:64] if order else None
    case = Case(
        invoice=InvoiceFacts.from_invoice(invoice, cost_centre=document.cost_centre),
        po=PoFacts.from_erp(order) if order else None,
        supplier=_supplier_facts(supplier),
        context=_context(supplier, needs_cost_centres=document.po_number is None),
        history=_history(document, supplier.id),
    )
    return rules.check(case) + _duplicates(document, invoice, supplier.id)


# -- re-validation ---------------------------------------------------------------------------


def revalidate(document: Document, actor: Actor = SYSTEM) -> DocumentState:
    """Check a held invoice again with today's facts (a late goods receipt, say). A hold whose
    rule passes now releases itself; a rule failing anew becomes a hold, unless a person
    already released a hold of that code (the same facts do not raise it again); with no open
    hold left the invoice goes on to VALIDATED. ErpError propagates: nothing changed."""
    if document.state != DocumentState.ON_HOLD or document.kind != DocumentKind.INVOICE:
        return document.state
    invoice = Invoice.model_validate(document.canonical)
    supplier = document.supplier or document.sender
    advisory_xact_lock(LOCK_NAMESPACE * 1_000_003 + supplier.id)
    findings = _findings(document, invoice, supplier)
    # A hold a person set (a disputed line) stays until a person resolves it.
    failing = {finding.code for finding in findings} | SET_BY_PEOPLE
    holds = holds_of(document.id)
    passed = [h for h in holds if h.status == HoldStatus.OPEN and h.code not in failing]
    still = [h for h in holds if h.status == HoldStatus.OPEN and h.code in failing]
    _release_passed(document, passed)
    _mark_checked(still)
    settled = {h.code for h in holds if h.status == HoldStatus.RELEASED and h.released_by_id}
    known = settled | {h.code for h in still}
    new = [finding for finding in findings if finding.code not in known]
    db.session.add_all(_hold(document, finding) for finding in new)
    if not still and not new:
        codes = ", ".join(sorted({h.code.value for h in passed})) or "none"
        transition(document, DocumentState.VALIDATED, actor, f"re-checked: {codes} now pass")
    return document.state


def _release_passed(document: Document, passed: Sequence[Hold]) -> None:
    if not passed:
        return
    release_open([h.id for h in passed], "the rule passes on a new check")
    record(
        "hold.released_by_recheck",
        actor_label=SYSTEM,
        organization_id=document.supplier_org_id or document.sender_org_id,
        target=document,
        details={"holds": [h.code.value for h in passed]},
    )


def _mark_checked(still: Sequence[Hold]) -> None:
    if still:
        db.session.execute(
            update(Hold).where(Hold.id.in_([h.id for h in still])).values(checked_at=utcnow())
        )


def revalidate_due(now: dt.datetime) -> int:
    """Housekeeping (run by every sweep): re-check the held invoices whose holds were checked
    longest ago and not within MATCHING_RECHECK_MINUTES, a small batch at a time. Each is its
    own savepoint; an ERP that does not answer ends the batch (the next sweep goes on)."""
    minutes = current_app.config["MATCHING_RECHECK_MINUTES"]
    last = func.coalesce(Hold.checked_at, Hold.created_at)
    due = db.session.scalars(
        select(Hold.document_id)
        .join(Document, Document.id == Hold.document_id)
        .where(
            Document.state == DocumentState.ON_HOLD,
            Hold.status == HoldStatus.OPEN,
            last <= now - dt.timedelta(minutes=minutes),
        )
        .group_by(Hold.document_id)
        .order_by(func.min(last))
        .limit(RECHECK_BATCH)
    ).all()
    done = 0
    for document_id in due:
        try:
            with db.session.begin_nested():
                document = locked_document(document_id)
                if document is not None:
                    revalidate(document)
        except ErpError:
            log.warning("re-check stopped: the ERP did not answer", document_id=document_id)
            break
        done += 1
    return done


def _remember_identity(document: Document, invoice: Invoice) -> None:
    document.number_key = duplicates.normalize_number(invoice.invoice_number)[:200]
    document.issue_date = invoice.issue_date
    document.is_credit = invoice.document_type == "credit_note"


def purchase_order(number: str | None) -> PurchaseOrder | None:
    """The PO from the ERP; None when there is no number or the ERP has no such PO (ErpError
    when the ERP does not answer)."""
    if not number:
        return None
    try:
        return get_erp().get_purchase_order(number, correlation_id=g.get("correlation_id"))
    except ErpNotFound:
        return None


def _supplier_facts(supplier: Organization) -> SupplierFacts:
    account = db.session.scalar(
        select(BankAccount).where(
            BankAccount.organization_id == supplier.id, BankAccount.status == BankStatus.ACTIVE
        )
    )
    return SupplierFacts(
        vendor_number=supplier.erp_vendor_number,
        active=supplier.is_active,
        suspended=supplier.status == OrgStatus.SUSPENDED,
        verified_account=account.account_identifier if account else None,
        bank_changed_at=supplier.bank_changed_at,
    )


def _context(supplier: Organization, *, needs_cost_centres: bool) -> Context:
    """The tolerances and dates in force; the ERP's cost centres only for an invoice without a
    PO (the only rule that reads them), so a PO invoice costs no extra ERP call."""
    return Context(
        tolerance=template_for(supplier.id),
        today=dt.datetime.now(dt.UTC).date(),
        valid_cost_centres=_cost_centres() if needs_cost_centres else frozenset(),
        max_age_days=current_app.config["MATCHING_MAX_AGE_DAYS"],
    )


def _cost_centres() -> frozenset[str]:
    centres = get_erp().list_cost_centres(correlation_id=g.get("correlation_id"))
    return frozenset(centre.code for centre in centres)


def _history(document: Document, supplier_id: int) -> History:
    if not document.po_number:
        return History()
    return billed(supplier_id, document.po_number, excluding=document.id)


def billed(supplier_id: int, po_number: str, excluding: int | None = None) -> History:
    """What the supplier's invoices on a PO billed so far (credit notes subtract), per PO line
    and in all; `excluding` leaves out the invoice being checked."""
    query = select(Document).where(
        Document.supplier_org_id == supplier_id,
        Document.po_number == po_number,
        Document.kind == DocumentKind.INVOICE,
        Document.state.in_(BILLED),
    )
    if excluding is not None:
        query = query.where(Document.id != excluding)
    earlier = db.session.scalars(query)
    quantities: dict[int, Decimal] = {}
    amount = Decimal(0)
    for other in earlier:
        facts = InvoiceFacts.from_invoice(Invoice.model_validate(other.canonical))
        sign = -1 if facts.is_credit else 1
        amount += sign * facts.line_total
        for line in facts.lines:
            if line.po_line is not None:
                quantities[line.po_line] = (
                    quantities.get(line.po_line, Decimal(0)) + sign * line.quantity
                )
    return History(quantities, amount)


def _duplicates(document: Document, invoice: Invoice, supplier_id: int) -> list[Finding]:
    rows = db.session.execute(
        select(
            Document.id,
            Document.document_number,
            Document.total_amount,
            Document.issue_date,
            Document.is_credit,
        ).where(
            Document.supplier_org_id == supplier_id,
            Document.kind == DocumentKind.INVOICE,
            Document.number_key.is_not(None),
            Document.state != DocumentState.REJECTED,
            Document.id != document.id,
        )
    )
    earlier = [
        duplicates.Earlier(
            row.id,
            row.document_number or "",
            row.total_amount or Decimal(0),
            row.issue_date,
            row.is_credit,
        )
        for row in rows
        if row.issue_date is not None
    ]
    return duplicates.duplicates(
        invoice.invoice_number,
        invoice.totals.payable,
        invoice.issue_date,
        invoice.document_type == "credit_note",
        earlier,
    )


def _conclude(document: Document, findings: Sequence[Finding]) -> None:
    rejects = [f for f in findings if f.severity is Severity.REJECT]
    if rejects:
        document.errors = [
            {"path": "$", "message": f.supplier, "code": f.code.value} for f in rejects
        ]
        transition(document, DocumentState.REJECTED, SYSTEM, rejects[0].finance)
        return
    if not findings:
        transition(document, DocumentState.VALIDATED, SYSTEM, "matched with no exception")
        return
    db.session.add_all(_hold(document, finding) for finding in findings)
    codes = ", ".join(sorted({f.code.value for f in findings}))
    transition(
        document,
        DocumentState.ON_HOLD,
        SYSTEM,
        f"held for finance: {codes}",
        details={"holds": [f.code.value for f in findings]},
    )


def _hold(document: Document, finding: Finding) -> Hold:
    return Hold(
        document_id=document.id,
        code=finding.code,
        severity=finding.severity,
        finance_message=finding.finance,
        supplier_message=finding.supplier,
        expected=finding.expected[:200] if finding.expected else None,
        actual=finding.actual[:200] if finding.actual else None,
        amount_at_risk=finding.amount_at_risk,
        line=finding.line[:64] if finding.line else None,
    )
