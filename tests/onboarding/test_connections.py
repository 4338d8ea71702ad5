"""Connections: a supplier admin authorizes a partner per document type and revokes it at any
time; the partner sees its connected suppliers."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.orgs.models import Connection, ConnectionScope, OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.onboarding.conftest import signed_in_browser
from tests.onboarding.helpers import last_mail, post_form, text


def _supplier(client):
    org = OrganizationFactory(
        name="Acme Implants", status=OrgStatus.ACTIVE, erp_vendor_number="V9002"
    )
    user = UserFactory(email="admin@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=org)
    login(client, user.email, PASSWORD)
    return org, user


def _connection() -> Connection:
    db.session.expire_all()
    return db.session.scalars(select(Connection)).one()


def test_supplier_grants_then_revokes_and_the_partner_sees_it(app, client):
    org, user = _supplier(client)
    partner = OrganizationFactory(kind=OrgKind.PARTNER, name="MedLink Network")
    partner_admin = UserFactory(
        email="ops@medlink.example", role=Role.PARTNER_ADMIN, role__organization=partner
    )
    OrganizationFactory(kind=OrgKind.PARTNER, status=OrgStatus.DRAFT, name="Unvetted Network")
    page = text(client.get(f"/organizations/{org.id}/connections"))
    assert "MedLink Network" in page
    assert "Unvetted Network" not in page

    response = post_form(
        client,
        f"/organizations/{org.id}/connections",
        {"partner_id": partner.id, "document_types": ["invoices", "purchase_orders"]},
    )
    assert response.status_code == 302
    connection = _connection()
    assert connection.document_types == ["invoices", "purchase_orders"]
    assert connection.allows(ConnectionScope.INVOICES)
    assert not connection.allows(ConnectionScope.ACKNOWLEDGMENTS)
    assert connection.granted_by_id == user.id
    assert "authorized MedLink Network" in last_mail("ops@medlink.example").body

    partner_browser = signed_in_browser(app, partner_admin)
    seen = text(partner_browser.get(f"/organizations/{partner.id}/connected-suppliers"))
    assert "Acme Implants" in seen
    assert "V9002" in seen
    assert "Purchase order reads" in seen

    response = post_form(
        client,
        f"/organizations/{org.id}/connections/{connection.id}/revoke",
        {},
        page=f"/organizations/{org.id}/connections",
    )
    assert response.status_code == 302
    connection = _connection()
    assert connection.revoked_at is not None
    assert not connection.allows(ConnectionScope.INVOICES)
    assert "Acme Implants" not in text(
        partner_browser.get(f"/organizations/{partner.id}/connected-suppliers")
    )
    assert "revoked the authorization" in last_mail("ops@medlink.example").body
    actions = db.session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.action.like("connection.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["connection.granted", "connection.revoked"]
    revoked = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "connection.revoked")
    ).one()
    assert revoked.details["before"]["live"] is True
    assert revoked.details["after"]["live"] is False

    # Granting again re-authorizes the same connection with the new document types.
    post_form(
        client,
        f"/organizations/{org.id}/connections",
        {"partner_id": partner.id, "document_types": ["acknowledgments"]},
    )
    connection = _connection()
    assert connection.is_live
    assert connection.document_types == ["acknowledgments"]


def test_a_grant_needs_a_document_type(client):
    org, _ = _supplier(client)
    partner = OrganizationFactory(kind=OrgKind.PARTNER, name="MedLink Network")
    response = post_form(client, f"/organizations/{org.id}/connections", {"partner_id": partner.id})
    assert response.status_code == 422
    assert "Choose at least one document type." in text(response)
    assert db.session.scalars(select(Connection)).all() == []


def test_only_active_partners_can_be_chosen(client):
    org, _ = _supplier(client)
    OrganizationFactory(kind=OrgKind.PARTNER, name="MedLink Network")
    draft = OrganizationFactory(
        kind=OrgKind.PARTNER, status=OrgStatus.DRAFT, name="Unvetted Network"
    )
    response = post_form(
        client,
        f"/organizations/{org.id}/connections",
        {"partner_id": draft.id, "document_types": ["invoices"]},
    )
    assert response.status_code == 422
    assert "Not a valid choice" in text(response)


def test_a_supplier_cannot_revoke_another_suppliers_connection(client):
    org, _ = _supplier(client)
    partner = OrganizationFactory(kind=OrgKind.PARTNER, name="MedLink Network")
    other = OrganizationFactory(name="Other Supplier")
    theirs = ConnectionFactory(partner=partner, supplier=other, document_types=["invoices"])
    response = post_form(
        client,
        f"/organizations/{org.id}/connections/{theirs.id}/revoke",
        {},
        page=f"/organizations/{org.id}/connections",
    )
    assert response.status_code == 404
    response = post_form(
        client,
        f"/organizations/{other.id}/connections/{theirs.id}/revoke",
        {},
        page=f"/organizations/{org.id}/connections",
    )
    assert response.status_code == 404
    assert _connection().is_live
