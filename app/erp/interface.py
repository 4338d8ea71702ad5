"""The ERP as the portal needs it: the ErpGateway protocol and the records it returns.

The HTTP client (``app.erp.client.ErpClient``) and the in-memory fake
(``app.erp.fake.RecordingErp``) both satisfy ``ErpGateway``; tests/erp checks both against the
same contract. Money is ``Decimal`` throughout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict


class PoStatus(StrEnum):
    """A purchase order's status as the ERP sends it; a StrEnum, so it equals the wire string."""

    OPEN = "OPEN"
    PARTIALLY_RECEIVED = "PARTIALLY_RECEIVED"
    RECEIVED = "RECEIVED"
    CLOSED = "CLOSED"


# The POs a supplier may still invoice or acknowledge: every status but CLOSED (the ERP
# refuses both against a closed PO). A tuple, in declaration order, for stable messages.
OPEN_PO_STATUSES: tuple[PoStatus, ...] = tuple(s for s in PoStatus if s is not PoStatus.CLOSED)


class ErpRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Address(ErpRecord):
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class RemitTo(ErpRecord):
    bank_name: str | None
    scheme: Literal["US_ABA", "IBAN"]
    bank_code: str
    account: str


class Vendor(ErpRecord):
    number: str
    name: str
    tax_id: str
    country: str
    currency: str
    status: Literal["ACTIVE", "INACTIVE"]
    email: str | None = None
    address: Address = Address()
    remit_to: RemitTo | None = None


class Facility(ErpRecord):
    code: str
    name: str
    address: Address


class CostCentre(ErpRecord):
    code: str
    name: str
    facility_code: str


class Item(ErpRecord):
    number: str
    description: str
    category: str
    uom: str
    list_price: Decimal
    currency: str


class PurchaseOrderLine(ErpRecord):
    line_number: int
    item_number: str
    description: str
    uom: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    quantity_received: Decimal
    need_by_date: dt.date


class PurchaseOrder(ErpRecord):
    number: str
    vendor_number: str
    facility_code: str
    cost_centre: str
    status: PoStatus
    currency: str
    order_date: dt.date
    buyer_email: str | None = None
    total_amount: Decimal
    lines: tuple[PurchaseOrderLine, ...]


class Receipt(ErpRecord):
    receipt_number: str
    po_number: str
    line_number: int
    item_number: str
    quantity: Decimal
    received_on: dt.date


class ApInvoiceLine(ErpRecord):
    line_number: int
    po_line_number: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


class ApInvoice(ErpRecord):
    id: int
    vendor_number: str
    invoice_number: str
    invoice_date: dt.date
    po_number: str | None
    cost_centre: str | None
    currency: str
    tax_amount: Decimal
    total_amount: Decimal
    status: Literal["OPEN", "PAID"]
    lines: tuple[ApInvoiceLine, ...]


class Payment(ErpRecord):
    ap_invoice_id: int
    status: Literal["UNPAID", "PAID"]
    amount: Decimal
    currency: str
    paid_on: dt.date | None
    reference: str | None


class AcknowledgmentLine(ErpRecord):
    line_number: int
    status: Literal["accepted", "rejected", "changed"]
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    promised_date: dt.date | None = None


class Acknowledgment(ErpRecord):
    id: int
    po_number: str
    status: Literal["accepted", "rejected", "changed"]
    reference: str | None
    note: str | None
    lines: tuple[AcknowledgmentLine, ...]
    received_at: dt.datetime


class ErpEvent(ErpRecord):
    """Something that happened in the ERP (a goods receipt); ids only grow, so the last id
    read is a reader's cursor."""

    id: int
    type: str
    po_number: str | None = None
    data: Mapping[str, Any] = {}
    created_at: dt.datetime


Payload = Mapping[str, Any]


class ErpGateway(Protocol):
    """Everything the portal asks of the ERP. Errors are those of ``app.erp.errors``.

    ``correlation_id`` travels to the ERP (``X-Correlation-ID``) so both sides' logs join up.
    """

    def ping(self) -> bool:
        """True when the ERP answers its API now; fast, never raises."""
        ...

    def list_vendors(
        self, tax_id: str | None = None, *, correlation_id: str | None = None
    ) -> list[Vendor]: ...

    def get_vendor(self, number: str, *, correlation_id: str | None = None) -> Vendor: ...

    def find_or_create_vendor(
        self, payload: Payload, *, correlation_id: str | None = None
    ) -> tuple[Vendor, bool]:
        """The vendor with this tax id, created if none exists; the flag says it was created."""
        ...

    def update_vendor(
        self,
        number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Vendor:
        """Change a vendor record (its `remit_to`); answers the vendor as the ERP now has it."""
        ...

    def list_facilities(self, *, correlation_id: str | None = None) -> list[Facility]: ...

    def list_cost_centres(self, *, correlation_id: str | None = None) -> list[CostCentre]: ...

    def list_items(self, *, correlation_id: str | None = None) -> list[Item]: ...

    def list_purchase_orders(
        self,
        vendor_number: str | None = None,
        status: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> list[PurchaseOrder]: ...

    def get_purchase_order(
        self, number: str, *, correlation_id: str | None = None
    ) -> PurchaseOrder: ...

    def list_receipts(
        self, po_number: str, *, correlation_id: str | None = None
    ) -> list[Receipt]: ...

    def create_ap_invoice(
        self, payload: Payload, idempotency_key: str, *, correlation_id: str | None = None
    ) -> ApInvoice:
        """Book an invoice once per key: a repeat returns the first invoice, never a second."""
        ...

    def get_ap_invoice(
        self, ap_invoice_id: int, *, correlation_id: str | None = None
    ) -> ApInvoice: ...

    def find_ap_invoice(
        self, vendor_number: str, invoice_number: str, *, correlation_id: str | None = None
    ) -> ApInvoice | None:
        """The vendor's AP invoice with this number, or None: how an unknown outcome (a timeout
        after sending) is resolved before anything is sent again."""
        ...

    def get_payment(self, ap_invoice_id: int, *, correlation_id: str | None = None) -> Payment: ...

    def acknowledge_po(
        self,
        po_number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Acknowledgment: ...

    def list_acknowledgments(
        self, po_number: str, *, correlation_id: str | None = None
    ) -> list[Acknowledgment]: ...

    def list_events(
        self, after: int = 0, limit: int = 100, *, correlation_id: str | None = None
    ) -> list[ErpEvent]:
        """The ERP's events with an id above `after`, oldest first, at most `limit`."""
        ...
