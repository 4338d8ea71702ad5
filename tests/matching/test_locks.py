"""Which checks wait for each other: invoices that could change each other's findings share a
lock (same PO, same number, same amount); unrelated invoices of one supplier share none."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.matching import services

pytestmark = pytest.mark.no_db


def keys(po: str | None, number: str, payable: str, supplier_id: int = 7) -> set[int]:
    taken: list[int] = []
    invoice = SimpleNamespace(
        invoice_number=number, totals=SimpleNamespace(payable=Decimal(payable))
    )
    document = SimpleNamespace(po_number=po)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "advisory_xact_lock", taken.append)
        services._lock_related(SimpleNamespace(id=supplier_id), document, invoice)  # type: ignore[arg-type]
    assert taken == sorted(taken)  # one order for everyone: no waiting in a circle
    return set(taken)


def test_unrelated_invoices_of_one_supplier_are_checked_at_once() -> None:
    assert not keys("PO-1", "INV-1", "10.00") & keys("PO-2", "INV-2", "20.00")


def test_invoices_on_one_po_wait_for_each_other() -> None:
    assert keys("PO-1", "INV-1", "10.00") & keys("PO-1", "INV-2", "20.00")


def test_the_same_number_written_another_way_waits() -> None:
    assert keys("PO-1", "inv-0042", "10.00") & keys("PO-2", "INV 42", "20.00")


def test_the_same_amount_written_another_way_waits() -> None:
    assert keys("PO-1", "INV-1", "10.00") & keys("PO-2", "INV-2", "10")


def test_another_suppliers_invoices_never_wait() -> None:
    assert not keys("PO-1", "INV-1", "10.00", 7) & keys("PO-1", "INV-1", "10.00", 8)
