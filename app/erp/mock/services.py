"""The mock ERP's use cases on its own database: they add and flush, never commit; the caller's
``unit_of_work`` (app.erp.mock.app) commits or rolls back the whole request, command or startup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.erp.interface import PoStatus
from app.erp.mock import models, render, rules, seed
from app.erp.mock.rules import BusinessError
from app.erp.mock.schemas import (
    AcknowledgmentCreate,
    AddReceipt,
    ApInvoiceCreate,
    MarkPaid,
    VendorCreate,
    VendorUpdate,
)

Answer = tuple[int, dict[str, Any]]


class NotFoundError(LookupError):
    """A record named in the URL does not exist (answered 404)."""


def recreate_database(session: Session) -> None:
    """Drop everything and seed again: the test suite's clean slate."""
    # The DDL runs on the session's connection, so the reset is one transaction with the seed:
    # a reset that fails half-way leaves the previous data, not empty tables.
    models.Base.metadata.drop_all(session.connection())
    ensure_seeded(session)


def ensure_seeded(session: Session) -> None:
    """Create the tables that are missing and load the seed into an empty database."""
    models.Base.metadata.create_all(session.connection())
    if not seed.is_seeded(session):
        seed.load_seed(session)


# Vendors -----------------------------------------------------------------------------------


def get_vendor(session: Session, number: str) -> models.Vendor:
    vendor = session.scalar(select(models.Vendor).where(models.Vendor.number == number))
    if vendor is None:
        raise NotFoundError(f"No vendor {number}.")
    return vendor


def find_vendor_by_tax_id(session: Session, tax_id: str) -> models.Vendor | None:
    key = seed.tax_key(tax_id)
    return session.scalar(select(models.Vendor).where(models.Vendor.tax_key == key))


def find_or_create_vendor(session: Session, req: VendorCreate) -> tuple[models.Vendor, bool]:
    """Match on the tax id, as an ERP's supplier master does; create only when none matches."""
    existing = find_vendor_by_tax_id(session, req.tax_id)
    if existing is not None:
        return existing, False
    vendor = _new_vendor(session, req)
    try:
        with session.begin_nested():
            session.add(vendor)
    except IntegrityError:
        # A concurrent request created it first: answer with that one.
        existing = find_vendor_by_tax_id(session, req.tax_id)
        if existing is None:
            raise
        return existing, False
    return vendor, True


def _new_vendor(session: Session, req: VendorCreate) -> models.Vendor:
    numbers = session.scalars(select(models.Vendor.number)).all()
    next_number = max((int(n[1:]) for n in numbers if n[1:].isdigit()), default=1000) + 1
    remit = req.remit_to
    return models.Vendor(
        number=f"V{next_number}",
        name=req.name,
        tax_id=req.tax_id,
        tax_key=seed.tax_key(req.tax_id),
        country=req.country,
        currency=req.currency,
        email=req.email,
        street=req.street,
        city=req.city,
        region=req.region,
        postal_code=req.postal_code,
        remit_bank_name=remit.bank_name if remit else None,
        remit_scheme=remit.scheme if remit else None,
        remit_bank_code=remit.bank_code if remit else None,
        remit_account=remit.account if remit else None,
    )


# Purchase orders ---------------------------------------------------------------------------


def update_vendor(session: Session, number: str, req: VendorUpdate) -> models.Vendor:
    """Change a vendor's remit-to, keeping what it was and what it became in vendor_changes."""
    vendor = get_vendor(session, number)
    before = _masked_remit(vendor)
    remit = req.remit_to
    vendor.remit_bank_name, vendor.remit_scheme = remit.bank_name, remit.scheme
    vendor.remit_bank_code, vendor.remit_account = remit.bank_code, remit.account
    session.add(
        models.VendorChange(
            vendor=vendor, reference=req.reference, before=before, after=_masked_remit(vendor)
        )
    )
    session.flush()
    return vendor


def vendor_changes(session: Session, number: str) -> list[models.VendorChange]:
    vendor = get_vendor(session, number)
    query = (
        select(models.VendorChange)
        .where(models.VendorChange.vendor_id == vendor.id)
        .order_by(models.VendorChange.id)
    )
    return list(session.scalars(query))


def _masked_remit(vendor: models.Vendor) -> dict[str, Any] | None:
    if not vendor.remit_account:
        return None
    return {
        "bank_name": vendor.remit_bank_name,
        "scheme": vendor.remit_scheme,
        "bank_code": vendor.remit_bank_code,
        "account": "…" + vendor.remit_account[-4:],
    }


def list_events(session: Session, after: int, limit: int) -> list[models.Event]:
    query = (
        select(models.Event).where(models.Event.id > after).order_by(models.Event.id).limit(limit)
    )
    return list(session.scalars(query))


def get_purchase_order(session: Session, number: str) -> models.PurchaseOrder:
    po = session.scalar(select(models.PurchaseOrder).where(models.PurchaseOrder.number == number))
    if po is None:
        raise NotFoundError(f"No purchase order {number}.")
    return po


def list_purchase_orders(
    session: Session, vendor_number: str | None, status: str | None
) -> list[models.PurchaseOrder]:
    query = select(models.PurchaseOrder).order_by(models.PurchaseOrder.number)
    if vendor_number:
        query = query.join(models.PurchaseOrder.vendor).where(models.Vendor.number == vendor_number)
    if status:
        query = query.where(models.PurchaseOrder.status == status.upper())
    return list(session.scalars(query).unique())


def po_facts(po: models.PurchaseOrder) -> rules.PoFacts:
    return rules.PoFacts(
        number=po.number,
        vendor_number=po.vendor.number,
        status=po.status,
        currency=po.currency,
        line_numbers=frozenset(line.line_number for line in po.lines),
    )


def acknowledge(
    session: Session, po: models.PurchaseOrder, req: AcknowledgmentCreate
) -> models.Acknowledgment:
    rules.check_acknowledgment(req, po_facts(po))
    ack = models.Acknowledgment(
        purchase_order=po,
        status=req.status,
        reference=req.reference,
        note=req.note,
        lines=[line.model_dump(mode="json") for line in req.lines],
    )
    session.add(ack)
    session.flush()
    return ack


# AP invoices -------------------------------------------------------------------------------


def get_ap_invoice(session: Session, invoice_id: int) -> models.ApInvoice:
    invoice = session.get(models.ApInvoice, invoice_id)
    if invoice is None:
        raise NotFoundError(f"No AP invoice {invoice_id}.")
    return invoice


def create_ap_invoice(session: Session, req: ApInvoiceCreate) -> models.ApInvoice:
    """Book an AP invoice after the checks an ERP's AP module makes; raise BusinessError."""
    vendor = session.scalar(select(models.Vendor).where(models.Vendor.number == req.vendor_number))
    po = _optional_po(session, req.po_number)
    centre = _optional_cost_centre(session, req.cost_centre)
    rules.check_ap_invoice(
        req,
        _vendor_facts(vendor),
        po_facts(po) if po else None,
        duplicate=vendor is not None and _has_invoice(session, vendor, req.invoice_number),
        cost_centre_known=centre is not None,
    )
    assert vendor is not None  # checked by the rules above  # noqa: S101
    invoice = _invoice_row(req, vendor, po, centre)
    try:
        with session.begin_nested():
            session.add(invoice)
    except IntegrityError:
        # Another key booked the same vendor + invoice number in the meantime.
        raise BusinessError(
            "DUPLICATE_INVOICE_NUMBER",
            f"Vendor {vendor.number} already has an invoice {req.invoice_number}.",
        ) from None
    return invoice


def _vendor_facts(vendor: models.Vendor | None) -> rules.VendorFacts | None:
    if vendor is None:
        return None
    active = vendor.status == models.VendorStatus.ACTIVE
    return rules.VendorFacts(number=vendor.number, active=active, currency=vendor.currency)


def _optional_po(session: Session, number: str | None) -> models.PurchaseOrder | None:
    if not number:
        return None
    return session.scalar(select(models.PurchaseOrder).where(models.PurchaseOrder.number == number))


def _optional_cost_centre(session: Session, code: str | None) -> models.CostCentre | None:
    if not code:
        return None
    return session.scalar(select(models.CostCentre).where(models.CostCentre.code == code))


def _has_invoice(session: Session, vendor: models.Vendor, invoice_number: str) -> bool:
    query = select(func.count(models.ApInvoice.id)).where(
        models.ApInvoice.vendor_id == vendor.id,
        models.ApInvoice.invoice_number == invoice_number,
    )
    return bool(session.scalar(query))


def _invoice_row(
    req: ApInvoiceCreate,
    vendor: models.Vendor,
    po: models.PurchaseOrder | None,
    centre: models.CostCentre | None,
) -> models.ApInvoice:
    return models.ApInvoice(
        vendor=vendor,
        invoice_number=req.invoice_number,
        invoice_date=req.invoice_date,
        purchase_order=po,
        cost_centre=centre,
        currency=req.currency,
        tax_amount=req.tax_amount,
        total_amount=req.total_amount,
        lines=[
            models.ApInvoiceLine(
                line_number=line.line_number,
                po_line_number=line.po_line_number,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in req.lines
        ],
    )


def list_ap_invoices(
    session: Session, vendor_number: str | None, invoice_number: str | None = None
) -> list[models.ApInvoice]:
    query = select(models.ApInvoice).order_by(models.ApInvoice.id)
    if vendor_number:
        query = query.join(models.ApInvoice.vendor).where(models.Vendor.number == vendor_number)
    if invoice_number:
        query = query.where(models.ApInvoice.invoice_number == invoice_number)
    return list(session.scalars(query).unique())


def add_receipt(session: Session, po_number: str, req: AddReceipt) -> models.Receipt:
    """Receive goods on a PO line; the PO becomes PARTIALLY_RECEIVED or RECEIVED."""
    po = get_purchase_order(session, po_number)
    line = next((line for line in po.lines if line.line_number == req.line_number), None)
    if line is None:
        raise NotFoundError(f"Purchase order {po_number} has no line {req.line_number}.")
    if po.status == PoStatus.CLOSED:
        raise BusinessError("PO_CLOSED", f"Purchase order {po_number} is closed.")
    count = session.scalar(select(func.count()).select_from(models.Receipt)) or 0
    receipt = models.Receipt(
        number=f"GR{900_000 + count + 1}",
        po_line=line,
        quantity=req.quantity,
        received_on=req.received_on or dt.datetime.now(dt.UTC).date(),
    )
    session.add(receipt)
    session.add(
        models.Event(
            type="receipt.created",
            po_number=po.number,
            data={
                "receipt_number": receipt.number,
                "line_number": line.line_number,
                "quantity": render.quantity(req.quantity),
            },
        )
    )
    session.flush()  # the receipt joined line.receipts through the relationship's backref
    fully = all(sum(r.quantity for r in pl.receipts) >= pl.quantity for pl in po.lines)
    po.status = PoStatus.RECEIVED if fully else PoStatus.PARTIALLY_RECEIVED
    session.flush()
    return receipt


def mark_paid(session: Session, invoice_id: int, req: MarkPaid) -> models.ApInvoice:
    """Record the payment run that paid this invoice; paying twice alike changes nothing."""
    invoice = get_ap_invoice(session, invoice_id)
    if invoice.status == models.ApInvoiceStatus.PAID:
        if invoice.payment_reference != req.reference:
            raise BusinessError("ALREADY_PAID", f"AP invoice {invoice_id} is already paid.")
        return invoice
    invoice.status = models.ApInvoiceStatus.PAID
    invoice.paid_on = req.date or dt.datetime.now(dt.UTC).date()
    invoice.payment_reference = req.reference
    session.flush()
    return invoice


# Idempotency -------------------------------------------------------------------------------


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    session: Session, scope: str, key: str, body_hash: str, work: Callable[[Session], Answer]
) -> tuple[int, dict[str, Any], bool]:
    """Answer `work`'s first result for this key forever after; returns (status, body, replayed).

    The record is inserted before the work, so a racing request with the same key waits on the
    unique index (PostgreSQL) or on the write lock (SQLite) and then replays the stored answer.
    The record, its answer and the work's rows are only flushed: the caller's unit of work
    commits them together, so no request ever sees a key without its answer.
    """
    for _ in range(3):
        stored = _stored_answer(session, scope, key, body_hash)
        if stored is not None:
            return (*stored, True)
        record = _claim_key(session, scope, key, body_hash)
        if record is None:
            continue  # a twin request committed this key first: replay its answer
        record.status_code, record.response_body = _answer(session, work)
        session.flush()
        return record.status_code, record.response_body, False
    raise RuntimeError(f"idempotency key {key!r} kept conflicting")


def _claim_key(
    session: Session, scope: str, key: str, body_hash: str
) -> models.IdempotencyRecord | None:
    """Insert the key's record, or None when a twin request holds the key already."""
    record = models.IdempotencyRecord(scope=scope, key=key, request_hash=body_hash)
    try:
        # A savepoint, not a rollback of the caller's transaction: on PostgreSQL the next
        # statement (READ COMMITTED) sees the twin's committed record and replays it.
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


def _stored_answer(
    session: Session, scope: str, key: str, body_hash: str
) -> tuple[int, dict[str, Any]] | None:
    record = session.scalar(
        select(models.IdempotencyRecord).where(
            models.IdempotencyRecord.scope == scope, models.IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.request_hash != body_hash:
        raise BusinessError(
            "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request."
        )
    return record.status_code or 500, record.response_body or {}


def _answer(session: Session, work: Callable[[Session], Answer]) -> Answer:
    try:
        with session.begin_nested():
            return work(session)
    except BusinessError as exc:
        return 422, error_body(exc.code, exc.message)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def render_invoice_created(invoice: models.ApInvoice) -> Answer:
    return 201, render.ap_invoice(invoice)
