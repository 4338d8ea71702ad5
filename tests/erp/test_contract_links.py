"""The ERP's links the portal writes and follows, one contract for the HTTP client (against the
mock ERP process) and the fake: a vendor's remit-to is updated once per key, and a goods
receipt shows up as an event after the reader's cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from app.erp.errors import ErpNotFound, ErpRejected
from app.erp.interface import ErpGateway, PoStatus
from tests.erp.helpers import unique

pytestmark = pytest.mark.no_db


@dataclass
class Erp:
    gateway: ErpGateway
    receive: Callable[[str, int, Decimal], None]


@pytest.fixture(params=["http", "fake"])
def erp(request: pytest.FixtureRequest) -> Iterator[Erp]:
    if request.param == "fake":
        fake = request.getfixturevalue("fake_erp")
        yield Erp(fake, lambda po, line, qty: fake.add_receipt(po, line, qty) and None)
        return
    server = request.getfixturevalue("erp_server")

    def receive(po: str, line: int, qty: Decimal) -> None:
        body = {"line_number": line, "quantity": str(qty)}
        answer = server.admin("POST", f"/admin/purchase-orders/{po}/receipts", body)
        assert answer.status_code == 201, answer.text

    yield Erp(request.getfixturevalue("erp_client"), receive)
    server.reset()  # receipts and vendor changes touch the shared mock ERP


def new_vendor(gateway: ErpGateway) -> str:
    ein = f"27-{unique('x')[-7:].translate(str.maketrans('abcdef', '123456'))}"
    vendor, _ = gateway.find_or_create_vendor(
        {"name": "Harbor Surgical", "tax_id": ein, "country": "US"}
    )
    return vendor.number


REMIT = {
    "bank_name": "Second Bank",
    "scheme": "US_ABA",
    "bank_code": "021000021",
    "account": "7788990011",
}


def test_a_vendor_remit_to_is_updated_and_read_back(erp: Erp) -> None:
    number = new_vendor(erp.gateway)
    updated = erp.gateway.update_vendor(number, {"remit_to": REMIT, "reference": "bank-1"})
    assert updated.remit_to is not None
    assert (updated.remit_to.account, updated.remit_to.bank_name) == ("7788990011", "Second Bank")
    assert erp.gateway.get_vendor(number) == updated


def test_a_vendor_update_is_applied_once_per_key(erp: Erp) -> None:
    number = new_vendor(erp.gateway)
    key = unique("bank")
    first = erp.gateway.update_vendor(number, {"remit_to": REMIT}, idempotency_key=key)
    again = erp.gateway.update_vendor(number, {"remit_to": REMIT}, idempotency_key=key)
    assert first == again
    other = REMIT | {"account": "1111222233"}
    with pytest.raises(ErpRejected, match="IDEMPOTENCY_KEY_REUSED"):
        erp.gateway.update_vendor(number, {"remit_to": other}, idempotency_key=key)


def test_updating_an_unknown_vendor_or_with_a_bad_body_fails(erp: Erp) -> None:
    with pytest.raises(ErpNotFound):
        erp.gateway.update_vendor("V9999", {"remit_to": REMIT})
    with pytest.raises(ErpRejected) as caught:
        erp.gateway.update_vendor(new_vendor(erp.gateway), {"remit_to": {"account": "1"}})
    assert caught.value.status == 400


def test_a_goods_receipt_is_an_event_after_the_cursor(erp: Erp) -> None:
    before = erp.gateway.list_events()
    cursor = before[-1].id if before else 0
    po = next(
        o
        for o in erp.gateway.list_purchase_orders(vendor_number="V1001", status="OPEN")
        if o.lines[0].quantity_received == 0
    )
    erp.receive(po.number, po.lines[0].line_number, Decimal(2))
    events = erp.gateway.list_events(after=cursor)
    assert [(e.type, e.po_number) for e in events] == [("receipt.created", po.number)]
    assert events[0].data["line_number"] == po.lines[0].line_number
    assert Decimal(events[0].data["quantity"]) == 2
    assert erp.gateway.list_events(after=events[0].id) == []
    assert erp.gateway.get_purchase_order(po.number).status == PoStatus.PARTIALLY_RECEIVED


def test_the_mock_erp_keeps_an_audit_of_vendor_changes(erp_server, erp_client) -> None:
    number = new_vendor(erp_client)
    erp_client.update_vendor(number, {"remit_to": REMIT, "reference": "bank-7"})
    changes = erp_server.admin("GET", f"/admin/vendors/{number}/changes").json()["items"]
    assert [(c["reference"], c["before"], c["after"]["account"]) for c in changes] == [
        ("bank-7", None, "…0011")
    ]
    erp_server.reset()
