"""The side-by-side rows of a held invoice, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.erp.interface import PoStatus, PurchaseOrder, PurchaseOrderLine
from app.holds.lines import side_by_side

pytestmark = pytest.mark.no_db

ORDER = PurchaseOrder(
    number="PO-1",
    vendor_number="V1",
    facility_code="F1",
    cost_centre="CC",
    status=PoStatus.PARTIALLY_RECEIVED,
    currency="USD",
    order_date=dt.date(2026, 11, 1),
    total_amount=Decimal(500),
    lines=(
        PurchaseOrderLine(
            line_number=1,
            item_number="I1",
            description="Screws",
            uom="EA",
            quantity=Decimal(10),
            unit_price=Decimal(50),
            amount=Decimal(500),
            quantity_received=Decimal(4),
            need_by_date=dt.date(2026, 11, 20),
        ),
    ),
)


def _invoice(quantity: str, price: str, po_line: str = "1") -> dict:
    """A stored canonical invoice (v1) of one line."""
    amount = str(Decimal(quantity) * Decimal(price))
    return {
        "invoice_number": "INV-1",
        "issue_date": "2026-11-20",
        "currency": "USD",
        "supplier": {"name": "Acme"},
        "lines": [
            {
                "line_id": "1",
                "quantity": quantity,
                "unit_price": price,
                "line_extension_amount": amount,
                "po_line": po_line,
            }
        ],
        "totals": {"line_total": amount, "payable": amount},
        "source_format": "json",
        "parser_version": "json-1.0.0",
    }


def test_a_line_within_the_po_is_not_marked():
    (row,) = side_by_side(_invoice("4", "50"), ORDER)
    assert (row.price_over, row.quantity_over_received, row.quantity_over_ordered) == (
        False,
        False,
        False,
    )


def test_price_and_quantities_beyond_the_po_are_marked():
    (row,) = side_by_side(_invoice("11", "51"), ORDER)
    assert (row.price_over, row.quantity_over_received, row.quantity_over_ordered) == (
        True,
        True,
        True,
    )


def test_a_line_naming_no_po_line_has_none():
    (row,) = side_by_side(_invoice("1", "1", po_line="9"), ORDER)
    assert row.po_line is None
    assert side_by_side(None, ORDER) == []
