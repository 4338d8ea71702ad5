"""Payload builders shared by the ERP tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from app.erp.interface import PurchaseOrder


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def invoice_for(po: PurchaseOrder, **overrides: Any) -> dict[str, Any]:
    """An invoice billing every line of `po` in full, with tax, in the PO's currency."""
    lines = [
        {
            "line_number": n,
            "po_line_number": line.line_number,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
        }
        for n, line in enumerate(po.lines, start=1)
    ]
    tax = Decimal("12.34")
    payload = {
        "vendor_number": po.vendor_number,
        "invoice_number": unique("INV"),
        "invoice_date": "2025-11-03",
        "currency": po.currency,
        "po_number": po.number,
        "tax_amount": tax,
        "total_amount": sum((line.amount for line in po.lines), tax),
        "lines": lines,
    }
    return payload | overrides


def non_po_invoice(vendor_number: str, currency: str = "USD", **overrides: Any) -> dict[str, Any]:
    payload = {
        "vendor_number": vendor_number,
        "invoice_number": unique("INV"),
        "invoice_date": "2025-11-03",
        "currency": currency,
        "cost_centre": "SLMC-OR",
        "total_amount": "150.00",
        "lines": [
            {
                "line_number": 1,
                "description": "Loaner instrument set service",
                "quantity": "1",
                "unit_price": "150.00",
                "amount": "150.00",
            }
        ],
    }
    return payload | overrides
