"""The AP invoice the ERP books for a document, built from its canonical invoice. Pure.

A line finance disputes is withheld: the invoice is booked without its amount and tax, and the
line is booked on its own (`withheld_line`) only once the dispute is released (the line
accepted). What is booked always adds up (lines + tax = total), as the ERP checks."""

from __future__ import annotations

from collections.abc import Collection
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.canonical import Invoice

CENTS = Decimal("0.01")
PRICE = Decimal("0.0001")
QUANTITY = Decimal("0.001")


def ap_invoice(
    invoice: Invoice, vendor_number: str, withheld: Collection[str] = ()
) -> dict[str, Any]:
    """The body of `POST /api/ap-invoices`, JSON-ready (money as strings), without the lines
    whose ids are in `withheld` (disputed): their amounts and tax come off the totals."""
    kept = [line for line in invoice.lines if line.line_id not in withheld]
    left_out = [line for line in invoice.lines if line.line_id in withheld]
    tax = _money(invoice.totals.tax_total or Decimal(0))
    tax_withheld = sum((_line_tax(invoice, line) for line in left_out), Decimal(0))
    amount_withheld = sum((_money(line.line_extension_amount) for line in left_out), Decimal(0))
    return {
        "vendor_number": vendor_number,
        "invoice_number": invoice.invoice_number,
        "invoice_date": invoice.issue_date.isoformat(),
        "currency": invoice.currency,
        "po_number": invoice.po_number or _first_po(invoice),
        "tax_amount": str(tax - tax_withheld),
        "total_amount": str(_money(invoice.totals.payable) - amount_withheld - tax_withheld),
        "lines": [_line(n, line) for n, line in enumerate(kept, start=1)],
    }


def withheld_line(invoice: Invoice, vendor_number: str, line_id: str) -> dict[str, Any]:
    """The AP invoice for one disputed line, booked once the dispute is released: the line
    with its tax, under the invoice's number with the line's id after it (the ERP keeps one
    invoice per vendor and number)."""
    line = next(line for line in invoice.lines if line.line_id == line_id)
    tax = _line_tax(invoice, line)
    return {
        "vendor_number": vendor_number,
        "invoice_number": f"{invoice.invoice_number[:50]}-L{line_id}"[:64],
        "invoice_date": invoice.issue_date.isoformat(),
        "currency": invoice.currency,
        "po_number": line.po_number or invoice.po_number or _first_po(invoice),
        "tax_amount": str(tax),
        "total_amount": str(_money(line.line_extension_amount) + tax),
        "lines": [_line(1, line)],
    }


def _line_tax(invoice: Invoice, line: Any) -> Decimal:
    """A line's tax: as the line states it, else at its rate, else its share of the total tax
    (by amount), never more than the invoice's tax."""
    total = _money(invoice.totals.tax_total or Decimal(0))
    if line.tax_amount is not None:
        return min(_money(line.tax_amount), total)
    if line.tax_rate is not None:
        return min(_money(line.line_extension_amount * line.tax_rate / 100), total)
    net = sum((other.line_extension_amount for other in invoice.lines), Decimal(0))
    return _money(total * line.line_extension_amount / net) if net else Decimal(0)


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
