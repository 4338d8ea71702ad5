"""Demo invoices, so that a first look at the portal shows a finance queue with work in it.

For the first demo suppliers, invoices are built from their purchase orders in the mock ERP's
deterministic seed and submitted through the same submission service as any upload: the worker
then normalizes and validates them against the running mock ERP, so every hold the queue shows
was raised by the real rules. Some invoices match cleanly; the others carry one kind of fault
each (a price above the PO, more than was received, a number sent twice, an unknown PO).
The first supplier also sends one invoice with a date normalization cannot read (REJECTED,
the reason shown to the supplier), and acknowledges two open POs: one as ordered (applied to the ERP PO), one
with a higher price on a line (held for the buyer).
The first supplier's last two POs received in full are left for the example documents.
Clean invoices go on to the ERP; two of the first supplier's are taken there at once, to show
one PAID and one DEAD waiting for replay.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.accounts.models import User
from app.db import db
from app.documents.models import Channel, Document, DocumentKind
from app.erp.interface import OPEN_PO_STATUSES, PoStatus, PurchaseOrder
from app.erp.mock.seed import SeedPo, build_seed
from app.holds.models import Question, Review
from app.intake import flip, services
from app.oauth.models import ApiClient
from app.oauth.services import touch_last_used
from app.orgs.models import Membership, Organization
from app.orgs.roles import FINANCE_ROLES
from app.posting import demo as posting_demo
from app.throttling.enforcement import charge_documents, throttling

SUPPLIERS_WITH_INVOICES = 5
KEPT_FOR_EXAMPLES = 2  # received POs of the first supplier that no demo invoice bills
# How each demo invoice of a supplier is bent, in order, one per received PO of the supplier
# (twice round the POs: the second invoice of a PO also crosses what was received).
VARIANTS = (
    "clean", "price", "quantity", "duplicate", "unknown_po", "clean", "price",
    "quantity", "price", "quantity", "clean", "price", "quantity", "unknown_po",
)  # fmt: skip


def seed_invoices(suppliers: list[Organization], via: dict[int, ApiClient] | None = None) -> int:
    """Submit demo invoices for suppliers that have none yet; returns how many were sent.
    A supplier named in `via` (by id) has its documents sent by that partner API client on
    its behalf, through the API channel, each call counted in the client's usage."""
    sent: list[int] = []
    faulty: list[int] = []
    orders = build_seed().purchase_orders
    for supplier in suppliers[:SUPPLIERS_WITH_INVOICES]:
        if _has_documents(supplier):
            continue
        sender = Sender(supplier, (via or {}).get(supplier.id))
        own = [
            po for po in orders if po.vendor_number == supplier.erp_vendor_number and _received(po)
        ]
        clean = []
        kept = _kept_for_examples(own) if supplier is suppliers[0] else set()
        for index, (variant, seed_po) in enumerate(zip(VARIANTS, own * 2, strict=False)):
            if seed_po.number in kept and variant != "unknown_po":
                continue  # its received goods stay to be billed by the example documents
            ids = _submit(sender, _invoice(supplier, seed_po.as_purchase_order(), variant, index))
            sent += ids
            faulty += ids if variant != "clean" else []
            clean += ids if variant == "clean" else []
        if supplier is suppliers[0] and len(clean) >= 2:
            # The first supplier's clean invoices go through posting at once: one PAID, one
            # DEAD waiting for replay (only when the mock ERP answers; see app.posting.demo).
            posting_demo.settle(clean[0], clean[1])
        if supplier is suppliers[0]:
            sent += _submit(sender, _misdated(supplier, own[0].as_purchase_order()))
            sent += _acknowledge(sender, orders)
    queue_work(faulty)
    return len(sent)


def _kept_for_examples(own: list[SeedPo]) -> set[str]:
    """The first supplier's last POs received in full, left uninvoiced: the API docs page builds
    its example documents for them (app.intake.examples), one PO line each, so that a
    newcomer's example goes through to VALIDATED instead of meeting a quantity hold."""
    received = [po.number for po in own if po.status == PoStatus.RECEIVED]
    return set(received[-KEPT_FOR_EXAMPLES:])


def queue_work(faulty: list[int]) -> None:
    """What finance is in the middle of on the invoices that will be held: some assigned, some
    held three days ago and overdue, one with a question waiting for the supplier. Reviews made
    now keep their clock when validation holds the invoice (holds.services.start_clock)."""
    clerks = list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role.in_(FINANCE_ROLES))
            .order_by(User.id)
        )
    )
    now = dt.datetime.now(dt.UTC)
    for position, document_id in enumerate(faulty):
        review = Review(document_id=document_id, version=1)
        if clerks and position % 3 == 0:
            review.assignee_id = clerks[position % len(clerks)].id
        if position % 4 == 1:
            review.held_at = now - dt.timedelta(days=3)
            review.due_at = now - dt.timedelta(days=1)
        db.session.add(review)
    if clerks and faulty:
        db.session.add(
            Question(
                document_id=faulty[-1],
                asked_by_id=clerks[0].id,
                question="Which delivery note does this invoice bill? We cannot find the receipt.",
            )
        )


def _has_documents(supplier: Organization) -> bool:
    query = select(Document.id).where(Document.supplier_org_id == supplier.id).limit(1)
    return db.session.scalar(query) is not None


def _received(po: SeedPo) -> bool:
    return po.status in (PoStatus.RECEIVED, PoStatus.PARTIALLY_RECEIVED)


def _invoice(supplier: Organization, order: PurchaseOrder, variant: str, index: int) -> dict:
    factor = Decimal("1.25") if variant == "price" else Decimal(1)
    extra = Decimal(3) if variant == "quantity" else Decimal(0)
    chosen = [
        flip.FlipLine(line.line_number, line.quantity_received + extra, line.unit_price * factor)
        for line in order.lines
        if line.quantity_received > 0
    ]
    # The duplicate repeats the first invoice's number as people retype it (a padding zero):
    # a new file, so intake takes it, and validation holds it as DUPLICATE.
    number = "DEMO-01000" if variant == "duplicate" else f"DEMO-{1000 + index}"
    invoice = flip.invoice_from_po(
        order,
        chosen,
        supplier=flip.FlipSupplier(supplier.id, supplier.name, supplier.erp_vendor_number),
        invoice_number=f"{supplier.erp_vendor_number}-{number}",
        issue_date=dt.datetime.now(dt.UTC).date(),
    )
    if variant == "unknown_po":
        invoice["po_number"] = "PO-UNKNOWN-1"
        for line in invoice["lines"]:
            line["po_number"] = "PO-UNKNOWN-1"
    return invoice


def _misdated(supplier: Organization, order: PurchaseOrder) -> dict:
    """An invoice exported with a US-style date (12/04/2026): normalization cannot read it, so
    it is REJECTED with the reason shown to the supplier."""
    invoice = _invoice(supplier, order, "clean", len(VARIANTS))
    issued = dt.date.fromisoformat(invoice["issue_date"])
    invoice["issue_date"] = issued.strftime("%m/%d/%Y")
    return invoice


def _acknowledge(sender: Sender, orders: list[SeedPo]) -> list[int]:
    """One acknowledgment as ordered and one raising a line's price, on two POs the supplier
    may still acknowledge (open ones first)."""
    supplier = sender.supplier
    own = sorted(
        (
            po
            for po in orders
            if po.vendor_number == supplier.erp_vendor_number and po.status in OPEN_PO_STATUSES
        ),
        key=lambda po: (po.status != PoStatus.OPEN, po.number),
    )
    sent: list[int] = []
    for seed_po, raise_price in zip(own[:2], (False, True), strict=False):
        order = seed_po.as_purchase_order()
        kind = DocumentKind.ACKNOWLEDGMENT
        sent += _submit(sender, _acknowledgment(order, raise_price), kind)
    return sent


def _acknowledgment(order: PurchaseOrder, raise_price: bool) -> dict:
    lines: list[dict] = [
        {"po_line": str(line.line_number), "status": "accept"} for line in order.lines
    ]
    if raise_price:
        first = order.lines[0]
        lines[0] = {
            "po_line": str(first.line_number),
            "status": "change",
            "changed_unit_price": str(first.unit_price * Decimal("1.08")),
            "reason": "raw material surcharge",
        }
    return {
        "ack_number": f"ACK-{order.number}",
        "po_number": order.number,
        "issue_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "status": "accepted_with_changes" if raise_price else "accepted",
        "currency": order.currency,
        "lines": lines,
    }


@dataclass(frozen=True)
class Sender:
    """Who sends a supplier's demo documents: the supplier itself (an upload), or a partner's
    API client acting for it."""

    supplier: Organization
    client: ApiClient | None = None


def _submit(sender: Sender, document: dict, kind: DocumentKind = DocumentKind.INVOICE) -> list[int]:
    number = document.get("invoice_number") or document["ack_number"]
    client, supplier = sender.client, sender.supplier
    submission = services.Submission(
        kind=kind,
        body=json.dumps(document).encode(),
        content_type="application/json",
        sender=client.organization if client else supplier,
        channel=Channel.API if client else Channel.UPLOAD,
        client_id=client.id if client else None,
        filename=None if client else f"{number}.json",
    )
    actor = f"api client {client.client_id}" if client else "demo data"
    if client is not None:
        _count_calls(client)
    submitted = services.submit(submission, lambda _: supplier, actor=actor)
    return [document.id for document in submitted.documents]


def _count_calls(client: ApiClient) -> None:
    """What the partner's integration did for one document, as the API's throttle counts it
    (the organization's usage page reads these counters): the POST and three polls, sent in a
    burst, so the tier's per-second rate refuses some of them (counted as throttled)."""
    ext = throttling()
    if ext.enabled:
        limits = ext.limits_for(client)
        for _ in range(4):
            ext.limiter.hit_request(client, limits)
    charge_documents(client, 1)
    touch_last_used(client)
