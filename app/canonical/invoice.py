"""The canonical invoice, version 1: what every wire format is normalized into."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from app.canonical.parties import BankAccount, CanonicalModel, Party
from app.canonical.scalars import CurrencyCode, Identifier, Money, Percent, Quantity, Text

DocumentType = Literal["invoice", "credit_note"]


class AllowanceCharge(CanonicalModel):
    """A discount (`is_charge=False`) or a surcharge, on a line or on the whole document."""

    is_charge: bool
    amount: Money
    reason: Text | None = None
    reason_code: Identifier | None = None
    base_amount: Money | None = None
    percent: Percent | None = None
    tax_category: Identifier | None = None
    tax_rate: Percent | None = None


class TaxSubtotal(CanonicalModel):
    taxable_amount: Money | None = None
    tax_amount: Money
    category: Identifier | None = None
    rate: Percent | None = None
    exemption_reason: Text | None = None


class PaymentTerms(CanonicalModel):
    text: Text | None = None
    net_days: int | None = Field(default=None, ge=0, le=3650)
    discount_percent: Percent | None = None
    discount_days: int | None = Field(default=None, ge=0, le=3650)
    discount_due_date: date | None = None


class InvoiceLine(CanonicalModel):
    """One billed item. `line_extension_amount` is net of the line's allowances and charges
    and excludes tax (the UBL / EN 16931 meaning), whatever the wire format called it."""

    line_id: Identifier
    description: Text | None = None
    supplier_item_id: Identifier | None = None
    buyer_item_id: Identifier | None = None
    standard_item_id: Identifier | None = None
    quantity: Quantity
    unit_code: Identifier | None = Field(default=None, description="UN/ECE rec 20 or X12 unit")
    unit_price: Money | None = None
    price_base_quantity: Quantity | None = Field(
        default=None, description="The quantity `unit_price` is quoted for, when not 1"
    )
    line_extension_amount: Money
    tax_category: Identifier | None = None
    tax_rate: Percent | None = None
    tax_amount: Money | None = None
    allowances_charges: list[AllowanceCharge] = Field(default_factory=list)
    po_number: Identifier | None = None
    po_line: Identifier | None = None
    notes: list[Text] = Field(default_factory=list)


class Totals(CanonicalModel):
    """Document totals as stated by the sender; a parser derives one only when the wire
    format has no place for it (X12 810 carries no line total, only TDS)."""

    line_total: Money
    allowance_total: Money = Decimal(0)
    charge_total: Money = Decimal(0)
    tax_exclusive: Money | None = None
    tax_total: Money | None = None
    tax_inclusive: Money | None = None
    prepaid: Money = Decimal(0)
    payable: Money


class Invoice(CanonicalModel):
    """Canonical invoice or credit note, schema version 1."""

    schema_version: Literal["1"] = "1"
    document_type: DocumentType = "invoice"
    invoice_number: Identifier
    issue_date: date
    due_date: date | None = None
    tax_point_date: date | None = None
    currency: CurrencyCode
    specification_id: Identifier | None = Field(
        default=None, description="Profile the sender claims, e.g. the UBL CustomizationID"
    )
    supplier: Party
    buyer: Party | None = None
    ship_to: Party | None = Field(default=None, description="Facility or delivery location")
    remit_to: BankAccount | None = None
    payment_terms: PaymentTerms | None = None
    po_number: Identifier | None = Field(default=None, description="Header purchase order")
    accounting_cost: Identifier | None = Field(
        default=None,
        description="The buyer's accounting reference, e.g. the cost centre a non-PO invoice is "
        "charged to (UBL cbc:AccountingCost, EN 16931 BT-19)",
    )
    billing_references: list[Identifier] = Field(
        default_factory=list, description="Earlier invoices this one corrects or credits"
    )
    lines: list[InvoiceLine] = Field(min_length=1)
    allowances_charges: list[AllowanceCharge] = Field(default_factory=list)
    tax_subtotals: list[TaxSubtotal] = Field(default_factory=list)
    totals: Totals
    notes: list[Text] = Field(default_factory=list)
    source_format: Identifier
    parser_version: Identifier


INVOICE_V1 = Invoice
