"""The validate stage's use case: gather the facts an invoice is checked against (its PO and
receipts from the ERP, what earlier invoices on that PO billed, the supplier's verified bank
details, earlier invoice numbers), run the rules, and move the document on: VALIDATED when
nothing was found, ON_HOLD with one hold per finding, REJECTED when a finding leaves nothing
for finance to decide.

Checks that could change each other's findings are serialized (transaction-scoped locks on the
supplier's PO, invoice number and amount: `_lock_related`), so two invoices checked at once still
see each other as duplicates or as earlier billing; unrelated invoices are checked in parallel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from flask import current_app, g
from sqlalchemy import and_, delete, func, insert, or_, select, update

from app.accounts.models import User
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
from app.matching.findings import SET_BY_PEOPLE, Finding, HoldCode, Severity
from app.matching.lookups import erp_pass, memoized
from app.matching.models import BilledLine, Correction, Hold, HoldStatus, fingerprint, release_open
from app.matching.queries import holds_of, waits_on
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
    # Acknowledgments have their own step (app.matching.acknowledgments, MATCH_ACK).
    if document.state == DocumentState.NORMALIZED and document.kind == DocumentKind.INVOICE:
        with erp_pass():
            _validate_invoice(document)
    outbox.complete(document.id, VALIDATE)
    return document.state


def _validate_invoice(document: Document) -> None:
    invoice = Invoice.model_validate(document.canonical)
    supplier = document.supplier or document.sender
    erp = _erp_facts(document, supplier)  # before the locks: no check waits on another's ERP call
    _lock_related(supplier, document, invoice)
    _remember_identity(document, invoice)
    conclude(document, _findings(document, invoice, supplier, erp))


@dataclass(frozen=True)
class ErpFacts:
    order: PurchaseOrder | None
    cost_centres: frozenset[str]
    verified_account: str | None
    erp_account: str | None


def _erp_facts(document: Document, supplier: Organization) -> ErpFacts:
    """What the check reads from the ERP: the PO; the cost centres only for an invoice without
    a PO (the only rule that reads them); the account the ERP's vendor record pays to only
    when the portal has verified details to compare it with."""
    needs_cost_centres = document.po_number is None
    account = db.session.scalar(
        select(BankAccount).where(
            BankAccount.organization_id == supplier.id, BankAccount.status == BankStatus.ACTIVE
        )
    )
    return ErpFacts(
        order=purchase_order(document.po_number),
        cost_centres=_cost_centres() if needs_cost_centres else frozenset(),
        verified_account=account.account_identifier if account else None,
        erp_account=_erp_account(supplier) if account else None,
    )


def _lock_related(supplier: Organization, document: Document, invoice: Invoice) -> None:
    """Serialize this check, until the transaction ends, with the checks it could see or be
    seen by: the supplier's invoices on the same PO (cumulative billing), with the same number
    once normalized (a duplicate) or with the same amount (a likely duplicate needs one). Two
    invoices that share none of these cannot change each other's findings, so they are checked
    at the same time. The locks are taken in one order, so no two checks wait in a circle."""
    keys = {
        _lock_key("po", supplier.id, document.po_number or ""),
        _lock_key("number", supplier.id, duplicates.normalize_number(invoice.invoice_number)),
        _lock_key("amount", supplier.id, invoice.totals.payable.normalize()),
    }
    for key in sorted(keys):
        advisory_xact_lock(key)


def _lock_key(*parts: object) -> int:
    """A 64-bit advisory lock id for `parts`, in this module's own space."""
    text = "\x1f".join(str(part) for part in (LOCK_NAMESPACE, *parts))
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def _findings(
    document: Document, invoice: Invoice, supplier: Organization, erp: ErpFacts
) -> list[Finding]:
    document.facility_code = erp.order.facility_code[:64] if erp.order else None
    facts = InvoiceFacts.from_invoice(invoice, cost_centre=document.cost_centre)
    _remember_billing(document, invoice, facts)
    case = Case(
        invoice=facts,
        po=PoFacts.from_erp(erp.order) if erp.order else None,
        supplier=_supplier_facts(supplier, erp),
        context=_context(supplier, erp.cost_centres),
        history=_history(document, supplier.id),
    )
    return rules.check(case) + _duplicates(document, invoice, supplier.id)


# -- re-validation ---------------------------------------------------------------------------


def revalidate(document: Document, actor: Actor = SYSTEM) -> DocumentState:
    """Check a held invoice again with today's facts (a late goods receipt, say).

    Holds and findings are paired by code and line. A hold whose finding is gone passes: the
    system releases it, unless the invoice was corrected, in which case it may pass only
    because of the correction: it stays open, marked "passes after correction by" the
    corrector, for another person to release (four eyes, and the manager's limit). A hold still
    failing takes the new facts (expected, actual, amount at risk). A new finding becomes a
    hold unless a person released a hold on the very same facts (`fingerprint`): a released
    price variance is not raised again, a different one is. With nothing left that keeps the
    whole invoice back (a disputed line does not) it goes on to VALIDATED. ErpError
    propagates: nothing changed."""
    if document.state != DocumentState.ON_HOLD or document.kind != DocumentKind.INVOICE:
        return document.state
    invoice = Invoice.model_validate(document.canonical)
    supplier = document.supplier or document.sender
    with erp_pass():  # within a sweep's or a receipt's pass, that pass's look-ups
        erp = _erp_facts(document, supplier)
    _lock_related(supplier, document, invoice)
    findings = _findings(document, invoice, supplier, erp)
    holds = holds_of(document.id)
    open_holds = [h for h in holds if h.status == HoldStatus.OPEN]
    paired, passed, new = _pair(open_holds, findings)
    for hold, finding in paired:
        _refresh(hold, finding)
    corrector = _last_corrector(document.id)
    if corrector is None:
        _release_passed(document, passed)
        still = [h for h in open_holds if h not in passed]
    else:
        _passes_after_correction(passed, corrector)
        still = open_holds
    _mark_checked(still)
    settled = {
        _fingerprint_of(h) for h in holds if h.status == HoldStatus.RELEASED and h.released_by_id
    }
    raised = [_hold(document, f) for f in new if _facts_fingerprint(f) not in settled]
    db.session.add_all(raised)
    if not waits_on(document, [*still, *raised]):
        codes = ", ".join(sorted({h.code.value for h in passed})) or "none"
        transition(document, DocumentState.VALIDATED, actor, f"re-checked: {codes} now pass")
    return document.state


def _pair(
    open_holds: Sequence[Hold], findings: Sequence[Finding]
) -> tuple[list[tuple[Hold, Finding]], list[Hold], list[Finding]]:
    """Open holds beside today's findings, by code and line: (hold, its finding now), the
    holds whose finding is gone, and the findings no open hold stands for. Holds a person set
    (a disputed line) or the ERP raised are never judged by the rules."""
    waiting: dict[tuple[HoldCode, str | None], list[Finding]] = {}
    for finding in findings:
        waiting.setdefault((finding.code, _cut(finding.line, 64)), []).append(finding)
    paired, passed = [], []
    for hold in open_holds:
        found = waiting.get((hold.code, hold.line))
        if found:
            paired.append((hold, found.pop(0)))
        elif hold.code not in SET_BY_PEOPLE and hold.code is not HoldCode.ERP_REJECTED:
            passed.append(hold)
    return paired, passed, [f for rest in waiting.values() for f in rest]


def _refresh(hold: Hold, finding: Finding) -> None:
    """A hold still failing, with today's facts (a partial receipt changes what was received
    and the amount at risk)."""
    hold.expected, hold.actual = _cut(finding.expected, 200), _cut(finding.actual, 200)
    hold.amount_at_risk = finding.amount_at_risk
    hold.finance_message, hold.supplier_message = finding.finance, finding.supplier
    hold.fingerprint = _facts_fingerprint(finding)


def _last_corrector(document_id: int) -> User | None:
    """Who last corrected the invoice, if anyone did."""
    return db.session.scalar(
        select(User)
        .join(Correction, Correction.actor_id == User.id)
        .where(Correction.document_id == document_id)
        .order_by(Correction.id.desc())
        .limit(1)
    )


def _passes_after_correction(passed: Sequence[Hold], corrector: User) -> None:
    """Holds that pass on a corrected invoice stay open for someone other than the corrector."""
    for hold in passed:
        if hold.corrected_by_id is None:
            hold.corrected_by_id = corrector.id
            hold.finance_message = (
                f"Passes after correction by {corrector.email}: another person must release "
                f"it. Found before the correction: {hold.finance_message}"
            )
            hold.version += 1


def _cut(text: str | None, size: int) -> str | None:
    return text[:size] if text else None


def _facts_fingerprint(finding: Finding) -> str:
    return fingerprint(
        finding.code, _cut(finding.line, 64), _cut(finding.expected, 200), _cut(finding.actual, 200)
    )


def _fingerprint_of(hold: Hold) -> str:
    """A hold's stored fingerprint; computed from its columns for holds kept before there was
    one (the same facts give the same hash)."""
    return hold.fingerprint or fingerprint(hold.code, hold.line, hold.expected, hold.actual)


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
    own savepoint; an ERP that does not answer ends the batch (the next sweep goes on). ERP
    look-ups are shared by the batch (`lookups.erp_pass`): held invoices on one PO read it once."""
    minutes = current_app.config["MATCHING_RECHECK_MINUTES"]
    last = func.coalesce(Hold.checked_at, Hold.created_at)
    due = db.session.scalars(
        select(Hold.document_id)
        .join(Document, Document.id == Hold.document_id)
        .where(
            Document.state == DocumentState.ON_HOLD,
            Document.kind == DocumentKind.INVOICE,  # a held acknowledgment waits for the buyer
            Hold.status == HoldStatus.OPEN,
            last <= now - dt.timedelta(minutes=minutes),
        )
        .group_by(Hold.document_id)
        .order_by(func.min(last))
        .limit(RECHECK_BATCH)
    ).all()
    done = 0
    with erp_pass():  # held invoices on one PO read it once
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
    return memoized(("purchase_order", number), lambda: _fetch_po(number))


def _fetch_po(number: str) -> PurchaseOrder | None:
    try:
        return get_erp().get_purchase_order(number, correlation_id=g.get("correlation_id"))
    except ErpNotFound:
        return None


def _supplier_facts(supplier: Organization, erp: ErpFacts) -> SupplierFacts:
    return SupplierFacts(
        vendor_number=supplier.erp_vendor_number,
        active=supplier.is_active,
        suspended=supplier.status == OrgStatus.SUSPENDED,
        verified_account=erp.verified_account,
        bank_changed_at=supplier.bank_changed_at,
        erp_account=erp.erp_account,
    )


def _erp_account(supplier: Organization) -> str | None:
    """The account the ERP's vendor record pays to ("" for none), asked only when the portal
    has verified details to compare it with; None without a vendor number."""
    number = supplier.erp_vendor_number
    if not number:
        return None
    return memoized(("vendor_account", number), lambda: _fetch_account(number))


def _fetch_account(vendor_number: str) -> str:
    try:
        vendor = get_erp().get_vendor(vendor_number, correlation_id=g.get("correlation_id"))
    except ErpNotFound:
        return ""
    return vendor.remit_to.account if vendor.remit_to else ""


def _context(supplier: Organization, cost_centres: frozenset[str]) -> Context:
    """The tolerances and dates in force, and the ERP's cost centres when they were read."""
    return Context(
        tolerance=template_for(supplier.id),
        today=dt.datetime.now(dt.UTC).date(),
        valid_cost_centres=cost_centres,
        max_age_days=current_app.config["MATCHING_MAX_AGE_DAYS"],
    )


def _cost_centres() -> frozenset[str]:
    def fetch() -> frozenset[str]:
        centres = get_erp().list_cost_centres(correlation_id=g.get("correlation_id"))
        return frozenset(centre.code for centre in centres)

    return memoized("cost_centres", fetch)


def _history(document: Document, supplier_id: int) -> History:
    if not document.po_number:
        return History()
    return billed(supplier_id, document.po_number, excluding=document.id)


def billed(supplier_id: int, po_number: str, excluding: int | None = None) -> History:
    """What the supplier's invoices on a PO billed so far (credit notes subtract), per PO line
    and in all; `excluding` leaves out the invoice being checked. One query, summed by the
    database from the lines each invoice's check wrote (`BilledLine`)."""
    query = (
        select(BilledLine.po_line, func.sum(BilledLine.quantity), func.sum(BilledLine.amount))
        .join(Document, Document.id == BilledLine.document_id)
        .where(
            Document.supplier_org_id == supplier_id,
            Document.po_number == po_number,
            Document.kind == DocumentKind.INVOICE,
            Document.state.in_(BILLED),
        )
        .group_by(BilledLine.po_line)
    )
    if excluding is not None:
        query = query.where(Document.id != excluding)
    quantities: dict[int, Decimal] = {}
    amount = Decimal(0)
    for po_line, quantity, line_amount in db.session.execute(query):
        amount += _plain(line_amount)
        if po_line is not None:
            quantities[po_line] = _plain(quantity)
    return History(quantities, _plain(amount))


def _plain(stored: Decimal | None) -> Decimal:
    """A sum as the documents wrote it, without the column's trailing zeros (4, not 4.000000)."""
    value = Decimal(stored or 0)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _remember_billing(document: Document, invoice: Invoice, facts: InvoiceFacts) -> None:
    """Write what this invoice bills per PO line (replacing what an earlier check wrote: a
    correction may have changed its lines). A credit note for invoices that were rejected
    takes nothing off: what they billed never counted."""
    sign = facts.billed_sign
    db.session.execute(delete(BilledLine).where(BilledLine.document_id == document.id))
    if not facts.lines or _credits_only_rejected(document, invoice):
        return
    db.session.execute(
        insert(BilledLine),
        [
            {
                "document_id": document.id,
                "po_line": line.po_line,
                "quantity": sign * line.quantity,
                "amount": sign * line.amount,
            }
            for line in facts.lines
        ],
    )


def _rejected_numbers(supplier_id: int, po_number: str) -> set[str]:
    """The normalized numbers of the supplier's rejected invoices on the PO (normalized here,
    not read from `number_key`, so a change of normalization needs no data migration)."""
    numbers = db.session.scalars(
        select(Document.document_number).where(
            Document.supplier_org_id == supplier_id,
            Document.po_number == po_number,
            Document.kind == DocumentKind.INVOICE,
            Document.state == DocumentState.REJECTED,
            Document.is_credit.is_(False),
            Document.document_number.is_not(None),
        )
    )
    return {duplicates.normalize_number(number) for number in numbers if number}


def _counted_numbers(supplier_id: int, po_number: str) -> set[str]:
    """The normalized numbers of the supplier's invoices on the PO that count as billed."""
    numbers = db.session.scalars(
        select(Document.document_number).where(
            Document.supplier_org_id == supplier_id,
            Document.po_number == po_number,
            Document.kind == DocumentKind.INVOICE,
            Document.state.in_(BILLED),
            Document.is_credit.is_(False),
            Document.document_number.is_not(None),
        )
    )
    return {duplicates.normalize_number(number) for number in numbers if number}


def _credits_only_rejected(document: Document, invoice: Invoice) -> bool:
    """A credit note whose billing references all name rejected invoices on its PO."""
    if invoice.document_type != "credit_note" or not invoice.billing_references:
        return False
    supplier_id = document.supplier_org_id or document.sender_org_id
    po_number = document.po_number or ""
    uncounted = _rejected_numbers(supplier_id, po_number) - _counted_numbers(supplier_id, po_number)
    return _credits_only(invoice, uncounted)


def _credits_only(invoice: Invoice, numbers: set[str]) -> bool:
    """A credit note whose billing references all name one of `numbers`."""
    references = {duplicates.normalize_number(ref) for ref in invoice.billing_references}
    return invoice.document_type == "credit_note" and bool(references) and references <= numbers


def _duplicates(document: Document, invoice: Invoice, supplier_id: int) -> list[Finding]:
    """The earlier invoices that could be duplicates, chosen by the database (the same number
    once normalized, or the same amount within the days a likely duplicate may be apart), then
    judged by `duplicates.duplicates`: a supplier's ten-thousandth invoice reads a handful of
    rows, not ten thousand."""
    window = dt.timedelta(days=duplicates.WITHIN_DAYS)
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
            or_(
                Document.number_key == document.number_key,
                and_(
                    Document.total_amount == invoice.totals.payable,
                    Document.issue_date.between(
                        invoice.issue_date - window, invoice.issue_date + window
                    ),
                ),
            ),
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


def conclude(
    document: Document,
    findings: Sequence[Finding],
    *,
    matched: str = "matched with no exception",
    held: str = "held for finance",
) -> None:
    """The outcome of a check: REJECTED on a finding that leaves nothing to decide (the
    supplier's wording on its timeline, finance's in the audit log), VALIDATED with none, else
    one hold per finding and ON_HOLD (for invoices and acknowledgments alike)."""
    rejects = [f for f in findings if f.severity is Severity.REJECT]
    if rejects:
        document.errors = [
            {"path": "$", "message": f.supplier, "code": f.code.value} for f in rejects
        ]
        # The timeline is the sender's to read: the supplier's wording there, finance's
        # (another vendor's number, internal detail) in the audit log.
        transition(document, DocumentState.REJECTED, SYSTEM, rejects[0].supplier)
        record(
            "document.rejected_by_rules",
            actor_label=SYSTEM,
            organization_id=document.supplier_org_id or document.sender_org_id,
            target=document,
            details={"findings": [{"code": f.code.value, "finance": f.finance} for f in rejects]},
        )
        return
    if not findings:
        transition(document, DocumentState.VALIDATED, SYSTEM, matched)
        return
    db.session.add_all(_hold(document, finding) for finding in findings)
    codes = ", ".join(sorted({f.code.value for f in findings}))
    transition(
        document,
        DocumentState.ON_HOLD,
        SYSTEM,
        f"{held}: {codes}",
        details={"holds": [f.code.value for f in findings]},
    )


def _hold(document: Document, finding: Finding) -> Hold:
    return Hold(
        document_id=document.id,
        code=finding.code,
        severity=finding.severity,
        finance_message=finding.finance,
        supplier_message=finding.supplier,
        expected=_cut(finding.expected, 200),
        actual=_cut(finding.actual, 200),
        amount_at_risk=finding.amount_at_risk,
        line=_cut(finding.line, 64),
        fingerprint=_facts_fingerprint(finding),
    )
