"""The AP invoice body without a disputed line, and the disputed line on its own: each adds up
as the ERP checks (lines + tax = total), and the two together are the whole invoice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from app.canonical import Invoice
from app.posting import payload


def _invoice(tax: str, line_tax: tuple[str | None, str | None] = (None, None)) -> Invoice:
    lines = []
    for n, (amount, stated) in enumerate(zip(("100.00", "300.00"), line_tax, strict=True), 1):
        line = {
            "line_id": str(n),
            "description": f"item {n}",
            "quantity": "1",
            "unit_price": amount,
            "line_extension_amount": amount,
            "po_line": str(n),
        }
        if stated is not None:
            line["tax_amount"] = stated
        lines.append(line)
    payable = Decimal("400.00") + Decimal(tax)
    return Invoice.model_validate(
        {
            "schema_version": "1",
            "source_format": "json",
            "parser_version": "1",
            "invoice_number": "INV-7",
            "issue_date": dt.date(2026, 11, 2).isoformat(),
            "currency": "USD",
            "supplier": {"name": "Lakeside Medical"},
            "po_number": "PO-1",
            "lines": lines,
            "totals": {"line_total": "400.00", "tax_total": tax, "payable": str(payable)},
        }
    )


def _adds_up(body: dict) -> bool:
    lines = sum(Decimal(line["amount"]) for line in body["lines"])
    return lines + Decimal(body["tax_amount"]) == Decimal(body["total_amount"])


def test_a_withheld_line_takes_its_share_of_the_tax_off_the_invoice():
    invoice = _invoice("40.00")
    rest = payload.ap_invoice(invoice, "V1001", {"2"})
    line = payload.withheld_line(invoice, "V1001", "2")
    assert [entry["description"] for entry in rest["lines"]] == ["item 1"]
    assert (rest["total_amount"], rest["tax_amount"]) == ("110.00", "10.00")
    assert (line["total_amount"], line["tax_amount"]) == ("330.00", "30.00")
    assert line["invoice_number"] == "INV-7-L2"
    assert _adds_up(rest)
    assert _adds_up(line)
    assert Decimal(rest["total_amount"]) + Decimal(line["total_amount"]) == Decimal("440.00")


def test_a_line_that_states_its_tax_takes_that_tax():
    invoice = _invoice("40.00", ("4.00", "36.00"))
    rest = payload.ap_invoice(invoice, "V1001", {"2"})
    assert (rest["total_amount"], rest["tax_amount"]) == ("104.00", "4.00")
    assert _adds_up(rest)


def test_nothing_withheld_is_the_whole_invoice():
    body = payload.ap_invoice(_invoice("0"), "V1001")
    assert body["total_amount"] == "400.00"
    assert len(body["lines"]) == 2
