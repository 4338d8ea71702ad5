"""Acknowledgments end to end against the real mock ERP: matched against their PO (which must
be the sender's), changes held for the buyer, rejected lines recorded, and a clean or released
acknowledgment applied to the PO in the ERP exactly once (APPLIED)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.documents.models import DocumentState
from app.erp.errors import ErpRejected, ErpUnavailable
from app.erp.interface import PoStatus, PurchaseOrder
from app.holds import services as finance
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.matching.services import revalidate_due
from app.orgs.models import Organization
from app.orgs.roles import Role
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import bearer, document, run_jobs


@pytest.fixture
def keystone(portal_erp) -> Organization:
    """A supplier that is vendor V1001 in the mock ERP."""
    return OrganizationFactory(supplier=True, name="Keystone Ortho", erp_vendor_number="V1001")


@pytest.fixture(autouse=True)
def _fresh_erp(request):
    """Acknowledgments written to the shared mock ERP are taken back afterwards."""
    uses_erp = "portal_erp" in request.fixturenames
    server = request.getfixturevalue("mock_erp") if uses_erp else None
    yield
    if server is not None:
        server.reset()


def open_po(erp, vendor: str = "V1001") -> PurchaseOrder:
    return erp.list_purchase_orders(vendor_number=vendor, status=PoStatus.OPEN)[0]


def ack_body(order: PurchaseOrder, number: str, **line_changes) -> dict:
    """An acknowledgment accepting every line of `order`; `line_changes` maps a PO line number
    (as `l1`) to the fields that line changes."""
    lines = []
    for line in order.lines:
        entry = {"po_line": str(line.line_number), "status": "accept"}
        entry |= line_changes.get(f"l{line.line_number}", {})
        lines.append(entry)
    changed = any(entry["status"] != "accept" for entry in lines)
    return {
        "ack_number": number,
        "po_number": order.number,
        "issue_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "status": "accepted_with_changes" if changed else "accepted",
        "currency": order.currency,
        "lines": lines,
    }


def send(client, org: Organization, body: dict) -> int:
    response = client.post(
        "/api/v1/acknowledgments",
        data=json.dumps(body),
        headers={**bearer(org), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.json["documents"][0]["id"]


def open_holds(document_id: int) -> list[HoldCode]:
    query = select(Hold.code).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
    return sorted(db.session.scalars(query))


def test_a_clean_acknowledgment_is_applied_to_its_po_in_the_erp(client, keystone, portal_erp):
    erp = portal_erp.client()
    order = open_po(erp)
    document_id = send(client, keystone, ack_body(order, "ACK-1"))
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.APPLIED, found.errors
    states = [e.to_state.value for e in found.timeline]
    assert states == ["RECEIVED", "NORMALIZED", "VALIDATED", "APPLIED"]
    assert "confirmed" in found.timeline[2].reason
    applied = [a for a in erp.list_acknowledgments(order.number) if a.reference == "ACK-1"]
    assert [a.status for a in applied] == ["accepted"]
    assert {line.status for line in applied[0].lines} == {"accepted"}


def test_a_changed_price_quantity_and_date_are_held_for_the_buyer(client, keystone, portal_erp):
    erp = portal_erp.client()
    order = open_po(erp)
    first = order.lines[0]
    changes = {
        "status": "change",
        "changed_unit_price": str(first.unit_price + 10),
        "changed_quantity": str(first.quantity + 1),
        "changed_delivery_date": (first.need_by_date + dt.timedelta(days=14)).isoformat(),
    }
    document_id = send(client, keystone, ack_body(order, "ACK-2", l1=changes))
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.ON_HOLD
    assert open_holds(document_id) == sorted([HoldCode.PRICE, HoldCode.QTY_ORDERED, HoldCode.DATE])
    price = db.session.scalar(
        select(Hold).where(Hold.document_id == document_id, Hold.code == HoldCode.PRICE)
    )
    assert price.amount_at_risk == Decimal(10) * (first.quantity + 1)
    assert not [a for a in erp.list_acknowledgments(order.number) if a.reference == "ACK-2"]

    later = utcnow() + dt.timedelta(days=1)
    assert revalidate_due(later) == 0  # the scheduled re-check is for invoices: it waits
    assert document(document_id).state is DocumentState.ON_HOLD

    buyer = UserFactory(role=Role.FINANCE_MANAGER)
    holds = db.session.scalars(select(Hold).where(Hold.document_id == document_id)).all()
    for hold in holds:
        finance.release(hold, buyer, "the buyer accepts the new terms")
    db.session.commit()  # the apply job is sent once the release commits
    run_jobs()
    assert document(document_id).state is DocumentState.APPLIED
    applied = [a for a in erp.list_acknowledgments(order.number) if a.reference == "ACK-2"]
    assert [a.status for a in applied] == ["changed"]
    line = applied[0].lines[0]
    assert (line.status, line.unit_price, line.quantity) == (
        "changed",
        first.unit_price + 10,
        first.quantity + 1,
    )
    assert line.promised_date == first.need_by_date + dt.timedelta(days=14)


def test_a_rejected_line_is_recorded_and_sent_to_the_erp_as_rejected(client, keystone, portal_erp):
    erp = portal_erp.client()
    order = next(o for o in erp.list_purchase_orders(vendor_number="V1001") if len(o.lines) > 1)
    body = ack_body(order, "ACK-3", l2={"status": "reject", "reason": "discontinued item"})
    document_id = send(client, keystone, body)
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.APPLIED
    assert "rejected by the supplier (2: discontinued item)" in found.timeline[2].reason
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "acknowledgment.lines_rejected")
    )
    assert entry.details["lines"] == [{"po_line": "2", "reason": "discontinued item"}]
    (applied,) = [a for a in erp.list_acknowledgments(order.number) if a.reference == "ACK-3"]
    statuses = {line.line_number: line.status for line in applied.lines}
    assert statuses[2] == "rejected"
    assert statuses[1] == "accepted"


def test_an_acknowledgment_of_another_suppliers_po_is_rejected(client, keystone, portal_erp):
    erp = portal_erp.client()
    theirs = open_po(erp, vendor="V1002")
    document_id = send(client, keystone, ack_body(theirs, "ACK-4"))
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.REJECTED
    assert [e["code"] for e in found.errors] == ["SUPPLIER_MISMATCH"]
    assert "was not issued to your organization" in found.errors[0]["message"]
    assert not [a for a in erp.list_acknowledgments(theirs.number) if a.reference == "ACK-4"]
    # The supplier reads why in its own words, never the other vendor's number: not on its
    # page, not in the API's timeline. Finance's wording is in the audit log.
    api = client.get(f"/api/v1/documents/{document_id}", headers=bearer(keystone)).get_json()
    [rejected] = [t for t in api["timeline"] if t["state"] == "REJECTED"]
    assert "was not issued to your organization" in rejected["reason"]
    assert "V1002" not in json.dumps(api)
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=keystone)
    login(client, user.email, PASSWORD)
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "was not issued to your organization" in page
    assert "V1002" not in page
    audit = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "document.rejected_by_rules")
    )
    assert audit is not None
    assert "belongs to vendor V1002" in json.dumps(audit.details)


def test_an_acknowledgment_of_an_unknown_po_is_rejected(client, keystone, portal_erp):
    order = open_po(portal_erp.client())
    body = ack_body(order, "ACK-5") | {"po_number": "PO999999"}
    document_id = send(client, keystone, body)
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.REJECTED
    assert [e["code"] for e in found.errors] == ["PO_NOT_FOUND"]


def test_the_supplier_reads_its_acknowledgment_in_plain_words(client, keystone, portal_erp):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    order = open_po(portal_erp.client())
    document_id = send(client, keystone, ack_body(order, "ACK-6"))
    run_jobs()
    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=keystone)
    login(client, user.email, PASSWORD)
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Recorded on the purchase order in the hospital" in page


# -- applying, with the fake ERP's failures -------------------------------------------------


@pytest.fixture
def fake(fake_erp):
    return fake_erp


@pytest.fixture
def supplier(fake) -> Organization:
    return OrganizationFactory(supplier=True, erp_vendor_number="V1001")


def test_an_erp_outage_retries_with_the_same_key_and_applies_once(client, supplier, fake):
    order = open_po(fake)
    fake.fail_next(ErpUnavailable("down", reason="server_error"), "acknowledge_po")
    document_id = send(client, supplier, ack_body(order, "ACK-7"))
    run_jobs()
    assert document(document_id).state is DocumentState.VALIDATED  # waits for the retry
    from app.matching.tasks import apply_acknowledgment

    assert apply_acknowledgment(document_id) == "APPLIED"
    assert apply_acknowledgment(document_id) == "APPLIED"  # a repeated job changes nothing
    keys = [c.kwargs["idempotency_key"] for c in fake.calls_to("acknowledge_po")]
    assert keys == [f"ack-{document_id}", f"ack-{document_id}"]
    assert len(fake.acknowledgments[order.number]) == 1


def test_an_erp_refusal_becomes_a_hold_with_its_reason(client, supplier, fake):
    order = open_po(fake)
    refusal = ErpRejected("PO_CLOSED", f"Purchase order {order.number} is closed.")
    fake.fail_next(refusal, "acknowledge_po")
    document_id = send(client, supplier, ack_body(order, "ACK-8"))
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.ON_HOLD
    hold = db.session.scalar(select(Hold).where(Hold.document_id == document_id))
    assert hold.code is HoldCode.ERP_REJECTED
    assert "is closed" in hold.finance_message

    finance.release(hold, UserFactory(role=Role.FINANCE_MANAGER), "PO reopened in the ERP")
    db.session.commit()  # the apply job is sent once the release commits
    run_jobs()
    assert document(document_id).state is DocumentState.APPLIED
    keys = [c.kwargs["idempotency_key"] for c in fake.calls_to("acknowledge_po")]
    assert keys == [f"ack-{document_id}", f"ack-{document_id}-1"]


# -- the buyer's page -----------------------------------------------------------------------


def held_ack(client, keystone, portal_erp, number: str) -> tuple[int, PurchaseOrder]:
    order = open_po(portal_erp.client())
    first = order.lines[0]
    changes = {"status": "change", "changed_unit_price": str(first.unit_price + 5)}
    document_id = send(client, keystone, ack_body(order, number, l1=changes))
    run_jobs()
    assert document(document_id).state is DocumentState.ON_HOLD
    return document_id, order


def buyer_post(browser, path: str, data: dict) -> str:
    from tests.conftest import csrf_token

    page = browser.get("/procurement/acknowledgments").get_data(as_text=True)
    response = browser.post(path, data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def buyer(app):
    from tests.onboarding.conftest import signed_in_browser

    user = UserFactory(role=Role.PROCUREMENT_ADMIN)
    return user, signed_in_browser(app, user)


def test_the_buyer_accepts_the_changes_and_the_ack_reaches_the_erp(
    app, client, keystone, portal_erp
):
    document_id, order = held_ack(client, keystone, portal_erp, "ACK-B1")
    user, browser = buyer(app)
    page = browser.get("/procurement/acknowledgments").get_data(as_text=True)
    assert "ACK-B1" in page
    assert "the supplier quotes" in page
    page = buyer_post(
        browser,
        f"/procurement/acknowledgments/{document_id}/accept",
        {"reason": "surcharge agreed"},
    )
    assert "Changes accepted: ACK-B1 goes on to the ERP." in page
    run_jobs()
    found = document(document_id)
    assert found.state is DocumentState.APPLIED
    assert any(e.actor_label == user.email for e in found.timeline)
    applied = portal_erp.client().list_acknowledgments(order.number)
    assert [a.reference for a in applied if a.reference == "ACK-B1"] == ["ACK-B1"]
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "acknowledgment.changes_accepted")
    )
    assert entry.details["reason"] == "surcharge agreed"


def test_the_buyer_refuses_the_changes_and_the_supplier_reads_the_note(
    app, client, keystone, portal_erp
):
    document_id, _ = held_ack(client, keystone, portal_erp, "ACK-B2")
    _, browser = buyer(app)
    page = buyer_post(
        browser, f"/procurement/acknowledgments/{document_id}/refuse", {"note": "keep the PO price"}
    )
    assert "ACK-B2 was sent back to the supplier." in page
    found = document(document_id)
    assert found.state is DocumentState.REJECTED
    assert found.errors == [
        {"path": "$", "code": "CHANGES_REFUSED", "message": "keep the PO price"}
    ]


def test_only_procurement_decides_on_acknowledgments(app, client, keystone, portal_erp):
    from tests.onboarding.conftest import signed_in_browser

    document_id, _ = held_ack(client, keystone, portal_erp, "ACK-B3")
    clerk = signed_in_browser(app, UserFactory(role=Role.FINANCE_CLERK))
    assert clerk.get("/procurement/acknowledgments").status_code == 403
    assert clerk.post(f"/procurement/acknowledgments/{document_id}/accept").status_code in (
        400,
        403,
    )
    supplier = signed_in_browser(
        app, UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=keystone)
    )
    assert supplier.get("/procurement/acknowledgments").status_code == 403
    assert document(document_id).state is DocumentState.ON_HOLD
