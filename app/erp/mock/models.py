"""The mock ERP's own tables: a separate database from the portal's, as a real ERP would be."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Generic column helpers only: the mock keeps its own Base, metadata and database, like a
# separate system would.
from app.db import NAMING_CONVENTION, UTCDateTime, utcnow

# The PO statuses are the integration contract's: the mock stores and sends exactly those.
from app.erp.interface import PoStatus

MONEY = Numeric(14, 2)
UNIT_PRICE = Numeric(14, 4)  # pharmacy unit prices go below a cent
QUANTITY = Numeric(12, 3)


class VendorStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class ApInvoiceStatus(enum.StrEnum):
    OPEN = "OPEN"  # booked, awaiting payment
    PAID = "PAID"


def _by_value(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        PoStatus: _by_value(PoStatus),
        VendorStatus: _by_value(VendorStatus),
        ApInvoiceStatus: _by_value(ApInvoiceStatus),
    }


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(50))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))


class CostCentre(Base):
    __tablename__ = "cost_centres"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))

    facility: Mapped[Facility] = relationship(lazy="joined")


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32))
    uom: Mapped[str] = mapped_column(String(8))
    list_price: Mapped[Decimal] = mapped_column(UNIT_PRICE)
    currency: Mapped[str] = mapped_column(String(3))


class Vendor(Base):
    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(32))
    # The tax id without punctuation: the ERP matches vendors on it, so it is unique.
    tax_key: Mapped[str] = mapped_column(String(32), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[VendorStatus] = mapped_column(default=VendorStatus.ACTIVE)
    email: Mapped[str | None] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    remit_bank_name: Mapped[str | None] = mapped_column(String(200))
    remit_scheme: Mapped[str | None] = mapped_column(String(16))
    remit_bank_code: Mapped[str | None] = mapped_column(String(32))
    remit_account: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    cost_centre_id: Mapped[int] = mapped_column(ForeignKey("cost_centres.id"))
    status: Mapped[PoStatus] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3))
    order_date: Mapped[dt.date]
    buyer_email: Mapped[str] = mapped_column(String(200))

    vendor: Mapped[Vendor] = relationship(lazy="joined")
    facility: Mapped[Facility] = relationship(lazy="joined")
    cost_centre: Mapped[CostCentre] = relationship(lazy="joined")
    lines: Mapped[list[PoLine]] = relationship(
        back_populates="purchase_order", order_by="PoLine.line_number", lazy="selectin"
    )


class PoLine(Base):
    __tablename__ = "po_lines"
    __table_args__ = (UniqueConstraint("purchase_order_id", "line_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    line_number: Mapped[int]
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    description: Mapped[str] = mapped_column(String(300))
    uom: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(UNIT_PRICE)
    need_by_date: Mapped[dt.date]

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    item: Mapped[Item] = relationship(lazy="joined")
    receipts: Mapped[list[Receipt]] = relationship(
        back_populates="po_line", order_by="Receipt.id", lazy="selectin"
    )


class Receipt(Base):
    """A goods receipt against one PO line (what the dock scanned in)."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    po_line_id: Mapped[int] = mapped_column(ForeignKey("po_lines.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    received_on: Mapped[dt.date]

    po_line: Mapped[PoLine] = relationship(back_populates="receipts")


class ApInvoice(Base):
    __tablename__ = "ap_invoices"
    __table_args__ = (UniqueConstraint("vendor_id", "invoice_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    invoice_number: Mapped[str] = mapped_column(String(64))
    invoice_date: Mapped[dt.date]
    purchase_order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"))
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    currency: Mapped[str] = mapped_column(String(3))
    tax_amount: Mapped[Decimal] = mapped_column(MONEY)
    total_amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[ApInvoiceStatus] = mapped_column(default=ApInvoiceStatus.OPEN)
    paid_on: Mapped[dt.date | None]
    payment_reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    vendor: Mapped[Vendor] = relationship(lazy="joined")
    purchase_order: Mapped[PurchaseOrder | None] = relationship(lazy="joined")
    cost_centre: Mapped[CostCentre | None] = relationship(lazy="joined")
    lines: Mapped[list[ApInvoiceLine]] = relationship(
        order_by="ApInvoiceLine.line_number", lazy="selectin", cascade="all, delete-orphan"
    )


class ApInvoiceLine(Base):
    __tablename__ = "ap_invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    ap_invoice_id: Mapped[int] = mapped_column(ForeignKey("ap_invoices.id"), index=True)
    line_number: Mapped[int]
    po_line_number: Mapped[int | None]
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(UNIT_PRICE)
    amount: Mapped[Decimal] = mapped_column(MONEY)


class Acknowledgment(Base):
    """A supplier's answer to a PO (accepted, rejected or changed), as the ERP stored it."""

    __tablename__ = "acknowledgments"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(1000))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    purchase_order: Mapped[PurchaseOrder] = relationship(lazy="joined")


class VendorChange(Base):
    """The ERP's own audit of a vendor record edited through the API: who asked (the portal's
    reference), what the remit-to was before and after (account numbers masked)."""

    __tablename__ = "vendor_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    vendor: Mapped[Vendor] = relationship(lazy="joined")


class Event(Base):
    """Something that happened in the ERP that integrations may follow (`GET /api/events`):
    a goods receipt, say. Ids only grow, so a reader keeps the last id it saw as its cursor."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    po_number: Mapped[str | None] = mapped_column(String(32), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """The first answer given for an Idempotency-Key; the unique key serializes racing twins."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
