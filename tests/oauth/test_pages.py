"""The API client pages of supplier and partner admins."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.oauth import credentials
from app.oauth.models import ApiClient
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import ec_key, new_client, public_jwks
from tests.onboarding.helpers import confirm_it_is_me

SECRET_RE = re.compile(r'id="client-secret">(cs_[A-Za-z0-9_-]+)<')


def _admin(client, org, role=Role.SUPPLIER_ADMIN, *, verified: bool = True):
    """A signed-in admin; `verified` also sets up the authenticator app and checks a code, as
    creating a client and rotating a secret need a recent second factor."""
    user = UserFactory(role=role, role__organization=org)
    db.session.commit()
    login(client, user.email, PASSWORD)
    if verified:
        confirm_it_is_me(client, "/api-clients/new")
    return user


def _create(client, **fields):
    token = csrf_token(client.get("/api-clients/new").get_data(as_text=True))
    data = {"name": "ERP connector", "auth_method": "client_secret_basic", **fields}
    return client.post("/api-clients/new", data={**data, "csrf_token": token})


def _actions() -> list[str]:
    return db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()


def test_an_admin_creates_a_client_and_sees_the_secret_once(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["invoices:write", "documents:read"])
    admin = _admin(client, org)

    response = _create(client, scopes=["invoices:write"])

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    api_client = db.session.scalar(select(ApiClient).where(ApiClient.organization_id == org.id))
    assert api_client.scopes == ["invoices:write"]
    assert api_client.created_by_id == admin.id
    (stored,) = api_client.secrets
    assert stored.secret_hash == credentials.hash_secret(secret)
    assert secret not in str(stored.__dict__)
    assert "oauth.client.created" in _actions()

    detail = client.get(f"/api-clients/{api_client.id}").get_data(as_text=True)
    assert secret not in detail
    assert f"…{secret[-4:]}" in detail
    listing = client.get("/api-clients").get_data(as_text=True)
    assert api_client.client_id in listing
    assert secret not in listing


def test_only_approved_scopes_are_offered_and_accepted(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["documents:read"])
    _admin(client, org)
    form = client.get("/api-clients/new").get_data(as_text=True)
    assert 'value="documents:read"' in form
    assert 'value="invoices:write"' not in form
    refused = _create(client, scopes=["invoices:write"])
    assert refused.status_code == 200
    assert "is not a valid choice" in refused.get_data(as_text=True)
    assert db.session.scalar(select(ApiClient.id)) is None


def test_private_key_jwt_client_registers_a_jwks_and_gets_no_secret(client):
    org = OrganizationFactory(partner=True, approved_scopes=["invoices:write"])
    _admin(client, org, Role.PARTNER_ADMIN)
    key = ec_key()
    import json

    response = _create(
        client,
        auth_method="private_key_jwt",
        scopes=["invoices:write"],
        jwks=json.dumps(public_jwks(key)),
    )
    page = response.get_data(as_text=True)
    assert "there is no secret" in page
    assert not SECRET_RE.search(page)
    api_client = db.session.scalar(select(ApiClient))
    assert api_client.jwks["keys"][0]["kid"] == key.kid
    assert api_client.secrets == []


def test_a_private_jwks_is_refused(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["invoices:write"])
    _admin(client, org)
    import json

    private = ec_key().as_dict(private=True)
    response = _create(
        client,
        auth_method="private_key_jwt",
        scopes=["invoices:write"],
        jwks=json.dumps({"keys": [private]}),
    )
    assert "register only the public half" in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiClient.id)) is None


def test_rotation_keeps_two_secrets_at_most(client):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    api_client, first = new_client(org)
    page = client.get(f"/api-clients/{api_client.id}").get_data(as_text=True)

    rotated = client.post(
        f"/api-clients/{api_client.id}/rotate",
        data={"old_secret_days": "7", "csrf_token": csrf_token(page)},
    )
    second = SECRET_RE.search(rotated.get_data(as_text=True)).group(1)
    db.session.expire_all()
    live = api_client.live_secrets()
    assert len(live) == 2
    assert second != first
    old = next(s for s in live if s.hint == first[-4:])
    new = next(s for s in live if s.hint == second[-4:])
    assert (old.expires_at - old.created_at).days <= 7
    assert new.expires_at > old.expires_at
    assert "oauth.client.secret_rotated" in _actions()

    third = client.post(
        f"/api-clients/{api_client.id}/rotate",
        data={"old_secret_days": "7", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "already has two live secrets" in third.get_data(as_text=True)

    expired = client.post(
        f"/api-clients/{api_client.id}/secrets/{old.id}/expire",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert f"ending in {old.hint} no longer works" in expired.get_data(as_text=True)
    db.session.expire_all()
    assert [s.hint for s in api_client.live_secrets()] == [new.hint]


def test_revoke_from_the_page_is_audited(client):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    api_client, _ = new_client(org)
    page = client.get(f"/api-clients/{api_client.id}").get_data(as_text=True)
    response = client.post(
        f"/api-clients/{api_client.id}/revoke",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "tokens are refused from now on" in response.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(ApiClient, api_client.id).is_active
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "oauth.client.revoked"))
    assert entry.organization_id == org.id
    assert entry.target_id == str(api_client.id)


def test_forms_need_their_csrf_token(client):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    api_client, _ = new_client(org)
    assert client.post(f"/api-clients/{api_client.id}/revoke").status_code == 400
    assert client.post("/api-clients/new", data={"name": "x"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).is_active


def test_another_organizations_client_is_a_404(client):
    mine, theirs = OrganizationFactory(supplier=True), OrganizationFactory(supplier=True)
    _admin(client, mine)
    their_client, _ = new_client(theirs)
    page = client.get("/api-clients").get_data(as_text=True)
    assert client.get(f"/api-clients/{their_client.id}").status_code == 404
    assert (
        client.post(
            f"/api-clients/{their_client.id}/revoke", data={"csrf_token": csrf_token(page)}
        ).status_code
        == 404
    )
    assert their_client.client_id not in page


@pytest.mark.parametrize("role", [Role.SUPPLIER_USER, Role.FINANCE_CLERK, Role.OPS])
def test_other_roles_cannot_manage_clients(client, role):
    user = UserFactory(role=role)
    db.session.commit()
    login(client, user.email, PASSWORD)
    assert client.get("/api-clients").status_code == 403
    assert client.get("/api-clients/new").status_code == 403


def test_admins_see_the_navigation_entry(client):
    _admin(client, OrganizationFactory(supplier=True))
    assert 'href="/api-clients"' in client.get("/home").get_data(as_text=True)


def _ask_for_a_code(response) -> None:
    assert response.status_code == 302
    assert "/account/mfa/setup" in response.headers["Location"]


def test_creating_a_client_needs_a_recent_second_factor(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["invoices:write"])
    _admin(client, org, verified=False)
    _ask_for_a_code(client.get("/api-clients/new"))
    token = csrf_token(client.get("/api-clients").get_data(as_text=True))
    response = client.post(
        "/api-clients/new",
        data={"name": "x", "auth_method": "client_secret_basic", "csrf_token": token},
    )
    _ask_for_a_code(response)
    assert db.session.scalar(select(ApiClient.id)) is None
    assert "oauth.client.created" not in _actions()

    page = confirm_it_is_me(client, "/api-clients/new")
    assert page.status_code == 200
    assert _create(client, scopes=["invoices:write"]).status_code == 200
    assert db.session.scalar(select(ApiClient.id)) is not None


def test_rotating_a_secret_needs_a_recent_second_factor(client):
    org = OrganizationFactory(supplier=True)
    _admin(client, org, verified=False)
    api_client, first = new_client(org)
    page = client.get(f"/api-clients/{api_client.id}").get_data(as_text=True)
    response = client.post(
        f"/api-clients/{api_client.id}/rotate",
        data={"old_secret_days": "7", "csrf_token": csrf_token(page)},
    )
    _ask_for_a_code(response)
    assert f"next=/api-clients/{api_client.id}" in response.headers["Location"].replace("%2F", "/")
    db.session.expire_all()
    assert [s.hint for s in api_client.live_secrets()] == [first[-4:]]
    assert "oauth.client.secret_rotated" not in _actions()

    confirm_it_is_me(client, "/api-clients/new")
    rotated = client.post(
        f"/api-clients/{api_client.id}/rotate",
        data={"old_secret_days": "7", "csrf_token": csrf_token(page)},
    )
    assert SECRET_RE.search(rotated.get_data(as_text=True))
    assert "oauth.client.secret_rotated" in _actions()
