"""resolve_supplier: a supplier's client acts for itself; a partner's only for connected
suppliers, per document type; everything else is one indistinct 403."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.oauth.resource import ApiForbidden, require_token, resolve_supplier
from app.oauth.tokens import issue_access_token
from app.orgs.models import Connection, ConnectionScope, OrgStatus
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.oauth.helpers import new_client

ME = "/api/v1/me"
INVOICES, ACKS, POS = (
    ConnectionScope.INVOICES,
    ConnectionScope.ACKNOWLEDGMENTS,
    ConnectionScope.PURCHASE_ORDERS,
)


def _resolve(app, api_client, document_type, on_behalf_of):
    """resolve_supplier inside a real @require_token call; returns the org id or the refusal."""

    @require_token()
    def view():
        try:
            return {"supplier": resolve_supplier(document_type, on_behalf_of).id}
        except ApiForbidden as exc:
            return {"forbidden": exc.detail}

    token = issue_access_token(api_client)
    with app.test_request_context(ME, headers={"Authorization": f"Bearer {token}"}):
        return app.make_response(view()).json


@pytest.fixture
def network():
    net = OrganizationFactory(partner=True)
    connected, other = OrganizationFactory(supplier=True), OrganizationFactory(supplier=True)
    ConnectionFactory(
        partner=net,
        supplier=connected,
        scopes=(
            INVOICES,
            ACKS,
        ),
    )
    api_client, _ = new_client(net)
    return net, connected, other, api_client


def test_a_suppliers_client_acts_for_its_own_organization_only(app):
    org, stranger = OrganizationFactory(supplier=True), OrganizationFactory(supplier=True)
    api_client, _ = new_client(org)
    assert _resolve(app, api_client, INVOICES, None) == {"supplier": org.id}
    assert _resolve(app, api_client, INVOICES, org.id) == {"supplier": org.id}
    refused = _resolve(app, api_client, INVOICES, stranger.id)
    assert refused == {"forbidden": "A supplier's client acts only for its own organization."}


def test_a_partner_acts_for_a_connected_supplier_per_document_type(app, network):
    _, connected, _, api_client = network
    assert _resolve(app, api_client, INVOICES, connected.id) == {"supplier": connected.id}
    assert _resolve(app, api_client, ACKS, connected.id) == {"supplier": connected.id}
    assert "forbidden" in _resolve(app, api_client, POS, connected.id)
    assert "On-Behalf-Of" in _resolve(app, api_client, INVOICES, None)["forbidden"]


def test_unconnected_unknown_and_revoked_look_the_same(app, network):
    net, connected, other, api_client = network
    not_connected = _resolve(app, api_client, INVOICES, other.id)["forbidden"]
    unknown = _resolve(app, api_client, INVOICES, 999_999)["forbidden"]
    assert not_connected.replace(str(other.id), "N") == unknown.replace("999999", "N")

    connection = db.session.scalar(select(Connection).where(Connection.partner_id == net.id))
    connection.revoked_at = utcnow()
    db.session.commit()
    assert "forbidden" in _resolve(app, api_client, INVOICES, connected.id)


def test_a_suspended_supplier_cannot_be_acted_for(app, network):
    _, connected, _, api_client = network
    connected.status = OrgStatus.SUSPENDED
    db.session.commit()
    assert "forbidden" in _resolve(app, api_client, INVOICES, connected.id)


def test_me_lists_a_partners_connected_suppliers(client, network):
    _, connected, _, api_client = network
    token = issue_access_token(api_client)
    body = client.get(ME, headers={"Authorization": f"Bearer {token}"}).json
    assert body["organization"]["kind"] == "partner"
    assert body["connected_suppliers"] == [
        {
            "id": connected.id,
            "name": connected.name,
            "document_types": ["acknowledgments", "invoices"],
        }
    ]


def test_me_with_on_behalf_of_shows_what_may_be_sent(client, network):
    _, connected, other, api_client = network
    headers = {"Authorization": f"Bearer {issue_access_token(api_client)}"}
    ok = client.get(ME, headers={**headers, "On-Behalf-Of": str(connected.id)})
    assert ok.json["acting_for"] == {
        "id": connected.id,
        "name": connected.name,
        "document_types": ["invoices", "acknowledgments"],
    }
    refused = client.get(ME, headers={**headers, "On-Behalf-Of": str(other.id)})
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("/not-permitted")
    garbage = client.get(ME, headers={**headers, "On-Behalf-Of": "acme"})
    assert garbage.status_code == 400
