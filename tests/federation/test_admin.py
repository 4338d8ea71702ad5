"""An organization admin configures and tests its identity provider; a procurement admin
approves it before anyone can sign in with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app import outbound
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.crypto import decrypt
from app.db import db
from app.federation.models import IdentityProvider, ProviderStatus, UserIdentity
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    approved_provider,
    at_provider,
    person,
    provider_url,
    signed_in_as,
    start_sign_in,
)


@pytest.fixture
def admin(client, acme):
    UserFactory(email="admin@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=acme)
    login(client, "admin@acme.example", PASSWORD)
    return client


@pytest.fixture
def procurement(app):
    """A procurement admin in another browser (password + the enrolment staff must do)."""
    UserFactory(email="pat@hospital.example", role=Role.PROCUREMENT_ADMIN)
    browser = app.test_client()
    login(browser, "pat@hospital.example", PASSWORD)
    return browser


def _form(idp, **changes) -> dict:
    return {
        "name": "Acme Okta",
        "issuer": idp.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": "openid email profile groups",
        "domains": "acme.example\nacme-medical.example",
        "jit_enabled": "y",
        "jit_role": "supplier_user",
        "groups_claim": "groups",
        "role_mapping": "",
        **changes,
    }


def _post(browser, path: str, data: dict):
    page = browser.get(path)
    return browser.post(path, data={**data, "csrf_token": csrf_token(page.get_data(True))})


def _provider() -> IdentityProvider:
    return db.session.scalars(select(IdentityProvider).order_by(IdentityProvider.id.desc())).first()


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action)))


def test_admin_adds_a_provider_that_waits_for_approval(admin, idp):
    response = _post(admin, "/settings/identity-providers/new", _form(idp))

    provider = _provider()
    assert response.headers["Location"].endswith(f"/settings/identity-providers/{provider.id}")
    assert provider.status == ProviderStatus.PENDING
    assert provider.domain_names == ["acme-medical.example", "acme.example"]
    assert provider.jit_role == Role.SUPPLIER_USER
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "A procurement admin approves it" in page
    assert "http://portal.test/auth/oidc/callback" in page  # what to register at the provider
    assert CLIENT_SECRET not in page
    assert "federation.provider_created" in _actions()
    # Not used for sign-in before approval.
    visitor = admin.application.test_client()
    assert 'type="password"' in start_sign_in(visitor, "x@acme.example").get_data(as_text=True)


def test_client_secret_is_encrypted_at_rest(admin, idp):
    _post(admin, "/settings/identity-providers/new", _form(idp))
    stored = db.session.execute(text("SELECT client_secret FROM identity_providers")).scalar()
    assert CLIENT_SECRET not in stored
    assert decrypt(stored) == CLIENT_SECRET


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "http://sso.acme.example"}, "must use https"),
        ({"domains": "not a domain"}, "is not an email domain"),
        ({"role_mapping": "admins = ops"}, "&#39;ops&#39; is not a role here"),
        ({"client_secret": ""}, "Enter the client secret"),
        ({"jit_role": ""}, "Choose the role that new accounts get"),
    ],
)
def test_bad_settings_are_explained(admin, idp, changes, message):
    response = _post(admin, "/settings/identity-providers/new", _form(idp, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _provider() is None


def test_a_domain_belongs_to_one_provider_only(admin, idp):
    approved_provider(OrganizationFactory(), idp, domains=("acme-medical.example",))
    response = _post(admin, "/settings/identity-providers/new", _form(idp))
    assert response.status_code == 422
    assert "Already claimed by another identity provider: acme-medical.example" in (
        response.get_data(as_text=True)
    )


def test_test_sign_in_shows_the_claims_and_signs_nobody_in(admin, idp):
    _post(admin, "/settings/identity-providers/new", _form(idp))
    provider = _provider()
    idp.set_user("alice", **person("alice@acme.example", groups=("buyers",)))

    started = admin.post(
        f"/settings/identity-providers/{provider.id}/test",
        data={"csrf_token": csrf_token(admin.get("/home").get_data(True))},
    )
    result = admin.get(at_provider(provider_url(started), "alice"))

    html = result.get_data(as_text=True)
    assert result.status_code == 200
    assert "passed every check" in html
    assert "alice@acme.example" in html
    assert "Creates the account alice@acme.example with the role(s) supplier_user" in html
    assert '<code>["buyers"]</code>' in html  # the groups claim, as JSON
    assert signed_in_as(admin, "admin@acme.example")
    assert db.session.scalar(select(User).where(User.email == "alice@acme.example")) is None
    assert db.session.scalar(select(UserIdentity)) is None
    db.session.refresh(provider)
    assert provider.last_tested_at is not None
    assert provider.last_test_error is None
    assert "federation.provider_tested" in _actions()


def test_failed_test_sign_in_says_why(admin, idp):
    _post(admin, "/settings/identity-providers/new", _form(idp, client_secret="wrong secret"))
    provider = _provider()
    idp.set_user("alice", **person("alice@acme.example"))
    started = admin.post(
        f"/settings/identity-providers/{provider.id}/test",
        data={"csrf_token": csrf_token(admin.get("/home").get_data(True))},
    )
    html = admin.get(at_provider(provider_url(started), "alice")).get_data(as_text=True)
    assert "The test sign-in failed: The identity provider answered invalid_client" in html
    db.session.refresh(provider)
    assert provider.last_test_error.startswith("The identity provider answered invalid_client")


def test_procurement_approves_and_the_provider_goes_live(admin, procurement, idp):
    _post(admin, "/settings/identity-providers/new", _form(idp))
    provider = _provider()
    queue = procurement.get("/admin/identity-providers").get_data(as_text=True)
    assert "Acme Okta" in queue

    page = procurement.get(f"/admin/identity-providers/{provider.id}")
    procurement.post(
        f"/admin/identity-providers/{provider.id}/approve",
        data={"csrf_token": csrf_token(page.get_data(True))},
    )

    db.session.refresh(provider)
    assert provider.status == ProviderStatus.APPROVED
    assert provider.approved_by.email == "pat@hospital.example"
    assert "federation.provider_approved" in _actions()
    visitor = admin.application.test_client()
    assert provider_url(start_sign_in(visitor, "x@acme.example"))


def test_procurement_sends_a_provider_back_with_a_note(admin, procurement, idp):
    _post(admin, "/settings/identity-providers/new", _form(idp))
    provider = _provider()
    _post(
        procurement,
        f"/admin/identity-providers/{provider.id}/reject",
        {"note": "Use your corporate domain only"},
    )
    db.session.refresh(provider)
    assert provider.status == ProviderStatus.REJECTED
    assert "Use your corporate domain only" in admin.get(
        f"/settings/identity-providers/{provider.id}"
    ).get_data(as_text=True)


def test_nobody_approves_their_own_change(app, procurement, idp):
    """The hospital's own (staff) provider is configured by a procurement admin: another one
    approves it."""
    _post(
        procurement,
        "/settings/identity-providers/new",
        _form(
            idp,
            domains="hospital.example",
            jit_role="",
            role_mapping="ap-clerks = finance_clerk",
        ),
    )
    provider = _provider()
    procurement.post(
        f"/admin/identity-providers/{provider.id}/approve",
        data={"csrf_token": csrf_token(procurement.get("/home").get_data(True))},
    )
    db.session.refresh(provider)
    assert provider.status == ProviderStatus.PENDING

    UserFactory(email="sam@hospital.example", role=Role.PROCUREMENT_ADMIN)
    colleague = app.test_client()
    login(colleague, "sam@hospital.example", PASSWORD)
    colleague.post(
        f"/admin/identity-providers/{provider.id}/approve",
        data={"csrf_token": csrf_token(colleague.get("/home").get_data(True))},
    )
    db.session.refresh(provider)
    assert provider.status == ProviderStatus.APPROVED


def test_staff_provider_must_map_groups_to_roles(procurement, idp):
    response = _post(
        procurement,
        "/settings/identity-providers/new",
        _form(idp, domains="hospital.example", jit_role=""),
    )
    assert response.status_code == 422
    assert "map at least one group to a role" in response.get_data(as_text=True)


def test_changing_what_the_provider_trusts_needs_approval_again(admin, idp, acme):
    provider = approved_provider(
        acme, idp, domains=("acme.example",), jit_enabled=True, jit_role=Role.SUPPLIER_USER
    )
    edit = f"/settings/identity-providers/{provider.id}/edit"

    _post(admin, edit, _form(idp, domains="acme.example", client_secret="rotated secret"))
    db.session.refresh(provider)
    assert provider.status == ProviderStatus.APPROVED  # a new secret alone is routine
    assert provider.client_secret == "rotated secret"

    _post(admin, edit, _form(idp, domains="acme.example\ngmail.example", client_secret=""))
    db.session.refresh(provider)
    assert provider.status == ProviderStatus.PENDING
    assert provider.client_secret == "rotated secret"


def test_another_organizations_provider_answers_404(admin, idp):
    other = approved_provider(OrganizationFactory(), idp, domains=("other.example",))
    token = csrf_token(admin.get("/home").get_data(as_text=True))
    assert admin.get(f"/settings/identity-providers/{other.id}").status_code == 404
    assert admin.get(f"/settings/identity-providers/{other.id}/edit").status_code == 404
    test = admin.post(f"/settings/identity-providers/{other.id}/test", data={"csrf_token": token})
    assert test.status_code == 404


def test_only_admins_configure_and_only_procurement_reviews(client, acme):
    UserFactory(email="ap@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@acme.example", PASSWORD)
    assert client.get("/settings/identity-providers").status_code == 403
    assert client.get("/admin/identity-providers").status_code == 403


@pytest.mark.parametrize(
    "case",
    [
        ("https://2130706433", "IP address in an unusual spelling"),
        ("https://0x7f.1", "IP address in an unusual spelling"),
        ("https://0177.0.0.1", "IP address in an unusual spelling"),
        ("https://[::ffff:127.0.0.1]", "not a private address"),
        ("https://sso.corp.example", "points to an internal address (10.20.30.40)"),
        ("https://metadata.corp.example", "points to an internal address (169.254.169.254)"),
    ],
)
def test_an_issuer_on_an_internal_address_is_refused_when_saved(admin, idp, app, monkeypatch, case):
    """The outbound guard's verdict at the form, with private addresses switched off as in
    production (the test provider itself lives on 127.0.0.1, so tests allow them otherwise)."""
    issuer, message = case
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    fake_dns = {"sso.corp.example": ["10.20.30.40"], "metadata.corp.example": ["169.254.169.254"]}
    monkeypatch.setattr(outbound, "resolve", lambda host, port: fake_dns[host])
    response = _post(admin, "/settings/identity-providers/new", _form(idp, issuer=issuer))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _provider() is None


def test_the_test_providers_loopback_issuer_is_refused_without_the_setting(
    admin, idp, app, monkeypatch
):
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    response = _post(admin, "/settings/identity-providers/new", _form(idp))
    assert response.status_code == 422
    assert "cannot be on this server" in response.get_data(as_text=True)
    assert _provider() is None
