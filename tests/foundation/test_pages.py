"""Supplier, finance and admin pages with real ERP data, scoped to the viewer."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import UserSession
from app.db import db
from app.orgs.models import OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory


def _supplier(client, vendor_number: str, email: str = "ap@supplier.example"):
    org = OrganizationFactory(name=f"Vendor {vendor_number}", erp_vendor_number=vendor_number)
    UserFactory(email=email, role=Role.SUPPLIER_USER, role__organization=org)
    login(client, email, PASSWORD)
    return org


def test_supplier_sees_only_its_own_purchase_orders(client, portal_erp):
    _supplier(client, "V1001")
    page = client.get("/purchase-orders").get_data(as_text=True)
    own = portal_erp.client().list_purchase_orders(vendor_number="V1001")
    assert own, "the seed gives V1001 purchase orders"
    for order in own:
        assert order.number in page
    other = portal_erp.client().list_purchase_orders(vendor_number="V1002")
    assert all(order.number not in page for order in other)


def test_supplier_filters_purchase_orders_by_status(client, portal_erp):
    _supplier(client, "V1001")
    page = client.get("/purchase-orders?status=CLOSED").get_data(as_text=True)
    for order in portal_erp.client().list_purchase_orders(vendor_number="V1001"):
        assert (order.number in page) == (order.status == "CLOSED")


def test_supplier_opens_its_po_with_lines_and_receipts(client, portal_erp):
    _supplier(client, "V1001")
    orders = portal_erp.client().list_purchase_orders(vendor_number="V1001")
    received = next(o for o in orders if o.status in {"RECEIVED", "PARTIALLY_RECEIVED"})
    page = client.get(f"/purchase-orders/{received.number}").get_data(as_text=True)
    assert f"Purchase order {received.number}" in page
    for line in received.lines:
        assert line.description in page
    receipts = portal_erp.client().list_receipts(received.number)
    assert receipts
    assert receipts[0].receipt_number in page


def test_another_suppliers_po_answers_404(client, portal_erp):
    _supplier(client, "V1001")
    foreign = portal_erp.client().list_purchase_orders(vendor_number="V1002")[0]
    response = client.get(f"/purchase-orders/{foreign.number}")
    assert response.status_code == 404
    assert client.get("/purchase-orders/PO-DOES-NOT-EXIST").status_code == 404


def test_supplier_page_says_when_the_erp_is_down(client):
    _supplier(client, "V1001")  # no portal_erp: the ERP does not answer
    response = client.get("/purchase-orders")
    assert response.status_code == 503
    assert "ERP is not answering" in response.get_data(as_text=True)


def test_finance_looks_up_any_po(client, portal_erp):
    UserFactory(email="clerk@hospital.example", role=Role.FINANCE_CLERK)
    login(client, "clerk@hospital.example", PASSWORD)
    order = portal_erp.client().list_purchase_orders(vendor_number="V1003")[0]
    page = client.get(f"/finance/purchase-orders?number={order.number}").get_data(as_text=True)
    assert f"Purchase order {order.number} · vendor V1003" in page
    missing = client.get("/finance/purchase-orders?number=NOPE").get_data(as_text=True)
    assert "The ERP has no purchase order NOPE" in missing


def test_team_page_lists_only_own_members(client):
    org = OrganizationFactory(name="Acme")
    UserFactory(email="admin@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=org)
    UserFactory(email="colleague@acme.example", role=Role.SUPPLIER_USER, role__organization=org)
    UserFactory(email="stranger@other.example", role=Role.SUPPLIER_USER)
    login(client, "admin@acme.example", PASSWORD)
    page = client.get("/team").get_data(as_text=True)
    assert "colleague@acme.example" in page
    assert "stranger@other.example" not in page


def test_procurement_filters_organizations(client):
    UserFactory(email="proc@hospital.example", role=Role.PROCUREMENT_ADMIN)
    OrganizationFactory(name="Pending Supplies", status=OrgStatus.SUBMITTED)
    OrganizationFactory(name="Network X", kind=OrgKind.PARTNER)
    login(client, "proc@hospital.example", PASSWORD)
    page = client.get("/admin/organizations?kind=supplier&status=SUBMITTED").get_data(as_text=True)
    assert "Pending Supplies" in page
    assert "Network X" not in page


def test_admin_disables_a_user_who_is_signed_out_everywhere(app, client):
    UserFactory(email="proc@hospital.example", role=Role.PROCUREMENT_ADMIN)
    target = UserFactory(email="leaver@acme.example", role=Role.SUPPLIER_USER)
    other = app.test_client()
    login(other, "leaver@acme.example", PASSWORD)
    assert other.get("/home").status_code == 200
    login(client, "proc@hospital.example", PASSWORD)
    token = csrf_token(client.get("/admin/users").get_data(as_text=True))
    response = client.post(
        f"/admin/users/{target.id}/active", data={"active": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    assert other.get("/home").status_code == 302
    ended = db.session.scalars(select(UserSession).where(UserSession.user_id == target.id)).all()
    assert [s.end_reason for s in ended] == ["user_disabled"]
    log = client.get("/ops/audit?action=user.disabled").get_data(as_text=True)
    assert "user.disabled" in log
