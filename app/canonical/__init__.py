"""Versioned canonical models every wire format is normalized into, and their JSON Schemas."""

from app.canonical.acknowledgment import ACKNOWLEDGMENT_V1, Acknowledgment, AcknowledgmentLine
from app.canonical.build import Kind, build
from app.canonical.field_errors import FieldError, FieldErrors
from app.canonical.invoice import (
    INVOICE_V1,
    AllowanceCharge,
    Invoice,
    InvoiceLine,
    PaymentTerms,
    TaxSubtotal,
    Totals,
)
from app.canonical.parties import Address, BankAccount, Contact, Party, SchemeId
from app.canonical.schemas import json_schema, published

__all__ = [
    "ACKNOWLEDGMENT_V1",
    "INVOICE_V1",
    "Acknowledgment",
    "AcknowledgmentLine",
    "Address",
    "AllowanceCharge",
    "BankAccount",
    "Contact",
    "FieldError",
    "FieldErrors",
    "Invoice",
    "InvoiceLine",
    "Kind",
    "Party",
    "PaymentTerms",
    "SchemeId",
    "TaxSubtotal",
    "Totals",
    "build",
    "json_schema",
    "published",
]
