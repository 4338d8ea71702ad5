"""The same contract, run against the HTTP client (to the mock ERP process) and the fake."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from app.erp.errors import ErpNotFound, ErpRejected
from app.erp.interface import OPEN_PO_STATUSES, ErpGateway, PoStatus
from tests.erp.helpers import invoice_for, non_po_invoice, unique

pytestmark = pytest.mark.no_db

NEW_VENDOR_EIN = "27-1234567"


@pytest.fixture(params=["http", "fake"])
def gateway(request: pytest.FixtureRequest) -> ErpGateway:
    if request.param == "http":
        return request.getfixturevalue("erp_client")
    return request.getfixturevalue("fake_erp")


def open_po(gateway: ErpGateway, vendor_number: str = "V1001"):
    return gateway.list_purchase_orders(vendor_number=vendor_number, status="OPEN")[0]


def test_ping(gateway: ErpGateway) -> None:
    assert gateway.ping() is True


def test_master_data(gateway: ErpGateway) -> None:
    assert [f.code for f in gateway.list_facilities()] == ["MGH", "RCH", "SLMC"]
    assert len(gateway.list_cost_centres()) == 15
    items = gateway.list_items()
    assert {i.category for i in items} == {"implants", "surgical", "pharmacy"}
    assert all(isinstance(i.list_price, Decimal) for i in items)


def test_vendor_lookup(gateway: ErpGateway) -> None:
    vendor = gateway.get_vendor("V1001")
    assert vendor.name == "Keystone Orthopedic Implants, Inc."
    assert vendor.remit_to is not None
    assert vendor.remit_to.scheme == "US_ABA"
    assert [v.number for v in gateway.list_vendors(tax_id="462530829")] == ["V1001"]
    with pytest.raises(ErpNotFound):
        gateway.get_vendor("V9999")


def test_find_or_create_vendor_matches_on_tax_id(gateway: ErpGateway) -> None:
    ein = f"27-{unique('x')[-7:].translate(str.maketrans('abcdef', '123456'))}"
    payload = {"name": "Lakeside Ortho Supply", "tax_id": ein, "country": "US"}
    created, was_new = gateway.find_or_create_vendor(payload)
    again, again_new = gateway.find_or_create_vendor(payload | {"tax_id": ein.replace("-", "")})
    assert (was_new, again_new) == (True, False)
    assert again.number == created.number
    assert len(gateway.list_vendors(tax_id=ein)) == 1


def test_purchase_orders_and_receipts(gateway: ErpGateway) -> None:
    pos = gateway.list_purchase_orders(vendor_number="V1001")
    assert pos
    assert {po.vendor_number for po in pos} == {"V1001"}
    received = gateway.list_purchase_orders(status="RECEIVED")[0]
    po = gateway.get_purchase_order(received.number)
    assert po == received
    assert all(line.quantity_received == line.quantity for line in po.lines)
    receipts = gateway.list_receipts(po.number)
    assert sum(r.quantity for r in receipts) == sum(line.quantity for line in po.lines)
    assert po.total_amount == sum(line.amount for line in po.lines)
    with pytest.raises(ErpNotFound):
        gateway.get_purchase_order("PO999999")


def test_po_status_is_parsed_into_the_enum(gateway: ErpGateway) -> None:
    pos = gateway.list_purchase_orders()
    assert {type(po.status) for po in pos} == {PoStatus}
    assert {po.status for po in pos} == set(PoStatus)
    # Filtering by the enum or by its wire string (any case) is the same query.
    closed = gateway.list_purchase_orders(status=PoStatus.CLOSED)
    assert closed == gateway.list_purchase_orders(status="closed")
    assert {po.status for po in closed} == {PoStatus.CLOSED}


def test_every_open_status_can_be_invoiced(gateway: ErpGateway) -> None:
    for status in OPEN_PO_STATUSES:
        po = gateway.list_purchase_orders(vendor_number="V1001", status=status)[0]
        assert gateway.create_ap_invoice(invoice_for(po), unique("key")).po_number == po.number


def test_ap_invoice_is_created_once_per_key(gateway: ErpGateway) -> None:
    payload = invoice_for(open_po(gateway))
    key = unique("key")
    first = gateway.create_ap_invoice(payload, key)
    second = gateway.create_ap_invoice(payload, key)
    assert first == second
    assert gateway.get_ap_invoice(first.id) == first
    assert first.total_amount == payload["total_amount"]
    assert first.status == "OPEN"


def test_an_ap_invoice_is_found_by_vendor_and_number(gateway: ErpGateway) -> None:
    payload = invoice_for(open_po(gateway))
    booked = gateway.create_ap_invoice(payload, unique("key"))
    found = gateway.find_ap_invoice(payload["vendor_number"], payload["invoice_number"])
    assert found is not None
    assert found.id == booked.id
    assert gateway.find_ap_invoice(payload["vendor_number"], unique("INV")) is None
    assert gateway.find_ap_invoice("V1002", payload["invoice_number"]) is None


def test_reused_key_with_another_body_is_rejected(gateway: ErpGateway) -> None:
    payload = invoice_for(open_po(gateway))
    key = unique("key")
    gateway.create_ap_invoice(payload, key)
    with pytest.raises(ErpRejected) as caught:
        gateway.create_ap_invoice(payload | {"invoice_number": unique("INV")}, key)
    assert caught.value.code == "IDEMPOTENCY_KEY_REUSED"


def reason(gateway: ErpGateway, payload: dict) -> str:
    with pytest.raises(ErpRejected) as caught:
        gateway.create_ap_invoice(payload, unique("key"))
    assert caught.value.status == 422
    return caught.value.code


def test_business_reason_codes(gateway: ErpGateway) -> None:
    po = open_po(gateway)
    closed = gateway.list_purchase_orders(vendor_number="V1001", status="CLOSED")[0]
    eur_po = open_po(gateway, vendor_number="V1006")
    booked = invoice_for(po)
    gateway.create_ap_invoice(booked, unique("key"))

    assert reason(gateway, invoice_for(po, vendor_number="V0000")) == "VENDOR_NOT_FOUND"
    assert reason(gateway, non_po_invoice("V1004")) == "VENDOR_INACTIVE"
    assert reason(gateway, invoice_for(po, po_number="PO999999")) == "PO_NOT_FOUND"
    assert reason(gateway, invoice_for(closed)) == "PO_CLOSED"
    assert reason(gateway, invoice_for(eur_po, currency="USD")) == "CURRENCY_MISMATCH"
    duplicate = invoice_for(po, invoice_number=booked["invoice_number"])
    assert reason(gateway, duplicate) == "DUPLICATE_INVOICE_NUMBER"
    assert reason(gateway, invoice_for(po, total_amount="1.00")) == "TOTAL_MISMATCH"
    assert reason(gateway, non_po_invoice("V1001", cost_centre=None)) == "COST_CENTRE_REQUIRED"


def test_a_rejection_is_answered_again_for_the_same_key(gateway: ErpGateway) -> None:
    payload = non_po_invoice("V1004")
    key = unique("key")
    for _ in range(2):
        with pytest.raises(ErpRejected, match="VENDOR_INACTIVE"):
            gateway.create_ap_invoice(payload, key)


def test_malformed_invoice_is_rejected_as_invalid(gateway: ErpGateway) -> None:
    with pytest.raises(ErpRejected) as caught:
        gateway.create_ap_invoice({"vendor_number": "V1001"}, unique("key"))
    assert (caught.value.code, caught.value.status) == ("VALIDATION_ERROR", 400)


def test_new_invoice_is_unpaid(gateway: ErpGateway) -> None:
    invoice = gateway.create_ap_invoice(non_po_invoice("V1008"), unique("key"))
    payment = gateway.get_payment(invoice.id)
    assert (payment.status, payment.paid_on, payment.amount) == ("UNPAID", None, Decimal("150.00"))


def test_acknowledgments_are_stored_and_listed(gateway: ErpGateway) -> None:
    po = open_po(gateway, vendor_number="V1002")
    payload = {
        "status": "changed",
        "reference": unique("ACK"),
        "lines": [
            {"line_number": 1, "status": "changed", "promised_date": dt.date(2025, 12, 1)},
        ],
    }
    ack = gateway.acknowledge_po(po.number, payload)
    assert ack.status == "changed"
    assert ack.lines[0].promised_date == dt.date(2025, 12, 1)
    assert ack in gateway.list_acknowledgments(po.number)


def test_acknowledgment_of_unknown_line_is_rejected(gateway: ErpGateway) -> None:
    po = open_po(gateway, vendor_number="V1002")
    payload = {"status": "accepted", "lines": [{"line_number": 99, "status": "accepted"}]}
    with pytest.raises(ErpRejected, match="PO_LINE_NOT_FOUND"):
        gateway.acknowledge_po(po.number, payload)
    with pytest.raises(ErpNotFound):
        gateway.acknowledge_po("PO999999", payload)
