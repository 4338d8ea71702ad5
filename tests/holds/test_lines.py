"""The side-by-side rows of a held invoice, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.erp.interface import PoStatus, PurchaseOrder, PurchaseOrderLine
from app.holds.lines import side_by_side
from app.matching.facts import History
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.matching.tolerances import Tolerance

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


# -- cumulative quantities, the tolerance in force, the lines that carry holds -----------------


def test_the_fourth_partial_invoice_is_marked_by_what_was_billed_in_all():
    """3 of the 4 received units were billed before: 2 more cross the receipt, though 2 alone
    would not."""
    (row,) = side_by_side(_invoice("2", "50"), ORDER, History({1: Decimal(3)}))
    assert row.billed == 5
    assert row.billed_before == 3
    assert row.quantity_over_received is True
    assert row.quantity_over_ordered is False
    (first,) = side_by_side(_invoice("2", "50"), ORDER)
    assert first.quantity_over_received is False


def test_a_credit_note_takes_quantity_off_what_was_billed():
    (row,) = side_by_side(_invoice("1", "50"), ORDER, History({1: Decimal(3)}))
    assert row.quantity_over_received is False  # 3 + 1 = 4 received
    (after_credit,) = side_by_side(_invoice("2", "50"), ORDER, History({1: Decimal(2)}))
    assert after_credit.quantity_over_received is False


def test_figures_within_the_tolerance_in_force_are_not_marked():
    loose = Tolerance(price_percent=Decimal(5), received_percent=Decimal(10))
    (within,) = side_by_side(_invoice("2", "52"), ORDER, History({1: Decimal("2.4")}), loose)
    assert (within.price_over, within.quantity_over_received) == (False, False)  # 4%, 4.4 of 4
    (beyond,) = side_by_side(_invoice("2", "53"), ORDER, History({1: Decimal("2.5")}), loose)
    assert (beyond.price_over, beyond.quantity_over_received) == (True, True)  # 6%, 4.5 of 4
    unlimited = Tolerance(price_percent=None, received_percent=None)
    (free,) = side_by_side(_invoice("9", "99"), ORDER, tolerance=unlimited)
    assert (free.price_over, free.quantity_over_received) == (False, False)


def test_the_lines_that_carry_open_holds_name_them():
    holds = [
        Hold(code=HoldCode.QTY_RECEIVED, status=HoldStatus.OPEN, line="1"),
        Hold(code=HoldCode.PRICE, status=HoldStatus.RELEASED, line="1"),
        Hold(code=HoldCode.TOTAL_MISMATCH, status=HoldStatus.OPEN, line=None),
    ]
    (row,) = side_by_side(_invoice("2", "50"), ORDER, holds=holds)
    assert list(row.held_for) == [HoldCode.QTY_RECEIVED]


def test_a_credit_notes_lines_are_not_matched_so_not_marked():
    credit = _invoice("20", "80") | {"document_type": "credit_note"}
    (row,) = side_by_side(credit, ORDER)
    assert (row.price_over, row.quantity_over_received, row.quantity_over_ordered) == (
        False,
        False,
        False,
    )
