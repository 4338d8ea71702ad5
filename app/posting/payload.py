"""The AP invoice the ERP books for a document, built from its canonical invoice. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.canonical import Invoice

CENTS = Decimal("0.01")
PRICE = Decimal("0.0001")
QUANTITY = Decimal("0.001")


def ap_invoice(invoice: Invoice, vendor_number: str) -> dict[str, Any]:
    """The body of `POST /api/ap-invoices`, JSON-ready (money as strings)."""
    lines = [_line(n, line) for n, line in enumerate(invoice.lines, start=1)]
    return {
        "vendor_number": vendor_number,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.issue_date.isoformat(),
        "currency": invoice.currency,
        "po_number": invoice.po_number or _first_po(invoice),
        "tax_amount": str(_money(invoice.totals.tax_total or Decimal(0))),
        "total_amount": str(_money(invoice.totals.payable)),
        "lines": lines,
    }


def _line(number: int, line: Any) -> dict[str, Any]:
    price = line.unit_price
    if price is None:
        price = line.line_extension_amount / line.quantity if line.quantity else Decimal(0)
    return {
        "line_number": number,
        "po_line_number": int(line.po_line) if line.po_line and line.po_line.isdigit() else None,
        "description": (line.description or line.line_id)[:300],
        "quantity": str(line.quantity.quantize(QUANTITY, ROUND_HALF_UP)),
        "unit_price": str(price.quantize(PRICE, ROUND_HALF_UP)),
        "amount": str(_money(line.line_extension_amount)),
    }


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENTS, ROUND_HALF_UP)


def _first_po(invoice: Invoice) -> str | None:
    return next((line.po_number for line in invoice.lines if line.po_number), None)
