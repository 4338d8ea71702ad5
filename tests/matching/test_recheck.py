"""Held invoices are checked again: a goods receipt that arrives late releases the
QTY_RECEIVED hold by itself, a hold a person released is not raised again by the same facts,
and an ERP that does not answer changes nothing. Against the real mock ERP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.documents.models import DocumentState
from app.erp.interface import PoStatus, PurchaseOrder
from app.holds import services as finance
from app.intake import flip
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.matching.services import revalidate_due
from app.orgs.roles import Role
from tests.factories.accounts import UserFactory
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import lakeside, send  # noqa: F401

LATER = dt.timedelta(hours=2)


@pytest.fixture(autouse=True)
def _fresh_erp(portal_erp):
    """Receipts written here change the shared mock ERP: put its seed back afterwards."""
    yield
    portal_erp.reset()


def waiting_po(portal_erp) -> PurchaseOrder:
    """An OPEN PO of V1001 whose first line has nothing received yet."""
    orders = portal_erp.client().list_purchase_orders(vendor_number="V1001")
    return next(
        o for o in orders if o.status == PoStatus.OPEN and o.lines[0].quantity_received == 0
    )


def bill_first_line(org, order: PurchaseOrder, number: str, price_factor: str = "1") -> dict:
    """Two units of the PO's first line (none received yet), at the PO price times a factor."""
    line = order.lines[0]
    chosen = [flip.FlipLine(line.line_number, Decimal(2), line.unit_price * Decimal(price_factor))]
    supplier = flip.FlipSupplier(org.id, org.name, org.erp_vendor_number)
    return flip.invoice_from_po(
        order, chosen, supplier=supplier, invoice_number=number, issue_date=utcnow().date()
    )


def receive(portal_erp, order: PurchaseOrder, quantity: int) -> None:
    answer = portal_erp.admin(
        "POST",
        f"/admin/purchase-orders/{order.number}/receipts",
        {"line_number": order.lines[0].line_number, "quantity": str(quantity)},
    )
    assert answer.status_code == 201, answer.text


def open_codes(document_id: int) -> set[HoldCode]:
    query = select(Hold.code).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
    return set(db.session.scalars(query))


def test_a_late_receipt_releases_the_received_quantity_hold(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "RC-1"))
    run_jobs()
    assert open_codes(document_id) == {HoldCode.QTY_RECEIVED}

    assert revalidate_due(utcnow()) == 0  # checked just now: not due yet
    receive(portal_erp, order, 2)
    assert revalidate_due(utcnow() + LATER) == 1
    found = document(document_id)
    assert found.state is DocumentState.VALIDATED
    assert open_codes(document_id) == set()
    assert "QTY_RECEIVED now pass" in found.timeline[-1].reason


def test_a_hold_a_person_released_is_not_raised_again(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    body = bill_first_line(lakeside, order, "RC-2", price_factor="1.5")
    document_id = send(client, lakeside, body)
    run_jobs()
    assert open_codes(document_id) == {HoldCode.PRICE, HoldCode.QTY_RECEIVED}
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    price = db.session.scalar(
        select(Hold).where(Hold.document_id == document_id, Hold.code == HoldCode.PRICE)
    )
    finance.release(price, manager, "agreed surcharge")
    assert document(document_id).state is DocumentState.ON_HOLD

    receive(portal_erp, order, 2)
    revalidate_due(utcnow() + LATER)
    assert document(document_id).state is DocumentState.VALIDATED
    assert open_codes(document_id) == set()


def _open_hold(document_id: int, code: HoldCode) -> Hold | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Hold).where(
            Hold.document_id == document_id, Hold.code == code, Hold.status == HoldStatus.OPEN
        )
    )


def test_a_partial_receipt_updates_the_open_hold_with_the_new_facts(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "RC-5"))
    run_jobs()
    before = _open_hold(document_id, HoldCode.QTY_RECEIVED)
    assert before is not None
    expected, at_risk, fingerprint = before.expected, before.amount_at_risk, before.fingerprint

    receive(portal_erp, order, 1)  # one of the two billed units arrives
    assert revalidate_due(utcnow() + LATER) == 1
    after = _open_hold(document_id, HoldCode.QTY_RECEIVED)
    assert after is not None
    assert after.id == before.id  # the same hold, with today's facts
    assert after.expected != expected
    assert "1" in (after.expected or "")
    assert after.amount_at_risk == at_risk / 2
    assert after.fingerprint != fingerprint
    assert document(document_id).state is DocumentState.ON_HOLD


def test_a_released_hold_is_raised_again_only_when_its_facts_change(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    body = bill_first_line(lakeside, order, "RC-6", price_factor="1.5")
    document_id = send(client, lakeside, body)
    run_jobs()
    assert open_codes(document_id) == {HoldCode.PRICE, HoldCode.QTY_RECEIVED}
    received = _open_hold(document_id, HoldCode.QTY_RECEIVED)
    assert received is not None
    finance.release(received, UserFactory(role=Role.FINANCE_MANAGER), "receipt to follow")

    # The same facts on a re-check: the person's release stands.
    assert revalidate_due(utcnow() + LATER) == 1
    assert open_codes(document_id) == {HoldCode.PRICE}

    # Different facts (one of two units received): a new hold, on these facts.
    receive(portal_erp, order, 1)
    assert revalidate_due(utcnow() + 2 * LATER) == 1
    raised = _open_hold(document_id, HoldCode.QTY_RECEIVED)
    assert raised is not None
    assert raised.id != received.id
    assert raised.fingerprint != db.session.get(Hold, received.id).fingerprint
    assert open_codes(document_id) == {HoldCode.PRICE, HoldCode.QTY_RECEIVED}


def test_with_the_erp_down_a_recheck_changes_nothing(client, lakeside, portal_erp):  # noqa: F811
    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "RC-3"))
    run_jobs()
    portal_erp.set_faults(error_rate=1.0)
    try:
        assert revalidate_due(utcnow() + LATER) == 0
    finally:
        portal_erp.clear_faults()
    assert document(document_id).state is DocumentState.ON_HOLD
    assert open_codes(document_id) == {HoldCode.QTY_RECEIVED}


def test_the_mock_erp_records_a_receipt_and_the_po_status_follows(portal_erp):
    order = waiting_po(portal_erp)
    receive(portal_erp, order, 1)
    again = portal_erp.client().get_purchase_order(order.number)
    assert again.lines[0].quantity_received == 1
    assert again.status == PoStatus.PARTIALLY_RECEIVED


def test_finance_checks_a_held_invoice_again_from_its_page(client, lakeside, portal_erp):  # noqa: F811
    from tests.conftest import csrf_token, login
    from tests.factories.accounts import PASSWORD

    order = waiting_po(portal_erp)
    document_id = send(client, lakeside, bill_first_line(lakeside, order, "RC-4"))
    run_jobs()
    receive(portal_erp, order, 2)
    clerk = UserFactory(role=Role.FINANCE_CLERK)
    login(client, clerk.email, PASSWORD)
    page = client.get(f"/finance/invoices/{document_id}").get_data(as_text=True)
    assert "Check again now" in page
    answer = client.post(
        f"/finance/invoices/{document_id}/recheck",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Checked again: the invoice is validated." in answer.get_data(as_text=True)
    assert document(document_id).state is DocumentState.VALIDATED
    assert document(document_id).timeline[-1].actor_label == clerk.email
