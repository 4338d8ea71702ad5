"""What the mock ERP accepts: request bodies, validated the same way by the mock and the fake."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Code = Annotated[str, Field(min_length=1, max_length=64)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
AckStatus = Literal["accepted", "rejected", "changed"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RemitToIn(_Request):
    bank_name: str
    scheme: Literal["US_ABA", "IBAN"]
    bank_code: str
    account: str


class VendorCreate(_Request):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    tax_id: Annotated[str, Field(min_length=4, max_length=32)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    currency: Currency = "USD"
    email: str | None = None
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    remit_to: RemitToIn | None = None


class VendorUpdate(_Request):
    """A change to a vendor record: today its remit-to (an approved bank change)."""

    remit_to: RemitToIn
    reference: Annotated[str, Field(max_length=64)] | None = None


class ApInvoiceLineIn(_Request):
    line_number: Annotated[int, Field(ge=1)]
    po_line_number: Annotated[int, Field(ge=1)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=300)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    amount: Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class ApInvoiceCreate(_Request):
    vendor_number: Code
    invoice_number: Code
    invoice_date: dt.date
    currency: Currency
    po_number: Code | None = None
    cost_centre: Code | None = None
    tax_amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] = Decimal("0")
    total_amount: Annotated[Decimal, Field(max_digits=14, decimal_places=2)]
    lines: Annotated[list[ApInvoiceLineIn], Field(min_length=1, max_length=500)]


class AckLineIn(_Request):
    line_number: Annotated[int, Field(ge=1)]
    status: AckStatus
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] | None = None
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] | None = None
    promised_date: dt.date | None = None


class AcknowledgmentCreate(_Request):
    status: AckStatus
    reference: Annotated[str, Field(max_length=64)] | None = None
    note: Annotated[str, Field(max_length=1000)] | None = None
    lines: list[AckLineIn] = []


class AddReceipt(_Request):
    """Goods received against one PO line (what the dock scans in), for tests and demos."""

    line_number: Annotated[int, Field(ge=1)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]
    received_on: dt.date | None = None


class MarkPaid(_Request):
    reference: Annotated[str, Field(min_length=1, max_length=64)]
    date: dt.date | None = None


class FaultsUpdate(_Request):
    """Faults to switch on; fields left out keep their current value."""

    latency_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    unavailable: bool | None = None
    retry_after: Annotated[int, Field(ge=0, le=3600)] | None = None
    hang: bool | None = None
    hang_seconds: Annotated[float, Field(gt=0, le=30)] | None = None
    refuse_seconds: Annotated[float, Field(gt=0, le=120)] | None = None
