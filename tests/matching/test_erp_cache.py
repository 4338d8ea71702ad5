"""ERP look-ups are memoized for one pass of work: a 200-line invoice is validated with a
handful of ERP calls, and re-checking several held invoices on one PO (the periodic sweep, or
a goods receipt) reads that PO once. Counted on the recording ERP fake."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from flask import g

from app.db import utcnow
from app.documents.models import DocumentState
from app.erp.fake import RecordingErp
from app.erp.interface import PoStatus, PurchaseOrder
from app.intake import flip
from app.matching import lookups, receipts
from app.matching.services import purchase_order, revalidate_due
from app.orgs.models import Organization
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import invoice_for, send

LATER = dt.timedelta(hours=2)


@pytest.fixture
def fake(fake_erp):
    return fake_erp


@pytest.fixture
def supplier(fake) -> Organization:
    return OrganizationFactory(supplier=True, name="Lakeside Medical", erp_vendor_number="V1001")


def _received(fake: RecordingErp) -> PurchaseOrder:
    orders = fake.list_purchase_orders(vendor_number="V1001")
    return next(o for o in orders if o.status == PoStatus.RECEIVED)


def _reads(fake: RecordingErp) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in fake.calls:
        counts[call.method] = counts.get(call.method, 0) + 1
    return counts


def test_a_200_line_invoice_is_validated_with_a_handful_of_erp_calls(client, supplier, fake):
    order = _received(fake)
    lines = [
        flip.FlipLine(order.lines[n % len(order.lines)].line_number, Decimal("0.01"), Decimal(1))
        for n in range(200)
    ]
    body = flip.invoice_from_po(
        order,
        lines,
        supplier=flip.FlipSupplier(supplier.id, supplier.name, supplier.erp_vendor_number),
        invoice_number="BIG-200",
        issue_date=utcnow().date(),
    )
    fake.calls.clear()
    document_id = send(client, supplier, body)
    run_jobs()
    assert len(document(document_id).canonical["lines"]) == 200
    assert document(document_id).state in (DocumentState.VALIDATED, DocumentState.ON_HOLD)
    reads = _reads(fake)
    assert reads.get("get_purchase_order") == 1
    validation_calls = sum(
        reads.get(m, 0) for m in ("get_purchase_order", "get_vendor", "list_cost_centres")
    )
    assert validation_calls <= 3


def test_rechecking_held_invoices_on_one_po_reads_it_once(client, supplier, fake):
    order = _received(fake)
    held = []
    for number in ("RX-100", "QZ-200", "KM-300"):
        document_id = send(client, supplier, invoice_for(supplier, order, number, "3"))
        run_jobs()
        assert document(document_id).state is DocumentState.ON_HOLD
        held.append(document_id)

    fake.calls.clear()
    assert revalidate_due(utcnow() + LATER) == 3
    assert _reads(fake).get("get_purchase_order") == 1

    fake.calls.clear()
    fake.add_receipt(order.number, order.lines[0].line_number, Decimal(1))
    assert receipts.follow_receipts() == 3
    assert _reads(fake).get("get_purchase_order") == 1


def test_outside_a_pass_every_look_up_goes_to_the_erp_and_a_pass_ends_with_its_block(app, fake):
    number = _received(fake).number
    fake.calls.clear()
    purchase_order(number)
    purchase_order(number)
    assert _reads(fake)["get_purchase_order"] == 2
    with lookups.erp_pass():
        purchase_order(number)
        with lookups.erp_pass():  # a pass inside a pass shares it
            purchase_order(number)
    assert _reads(fake)["get_purchase_order"] == 3
    assert g.get(lookups.MEMO) is None
