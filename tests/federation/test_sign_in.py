"""Company sign-in against the real OpenID provider: home-realm discovery, just-in-time accounts,
linking an existing account, matching on (issuer, subject), SSO-required and sign-out."""

from __future__ import annotations

import requests
from sqlalchemy import select

from app.accounts.models import User, UserSession
from app.audit.models import AuditEntry
from app.db import db
from app.federation.models import UserIdentity
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.federation.helpers import (
    AFTER_LOGOUT,
    approved_provider,
    at_provider,
    person,
    provider_url,
    signed_in_as,
    sso_sign_in,
    start_sign_in,
)
from tests.oidc.harness import logout_flow, query_params


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_email_of_an_sso_domain_goes_to_the_provider_with_pkce_state_and_nonce(client, idp, acme):
    approved_provider(acme, idp)
    response = start_sign_in(client, "Alice@Acme.example")
    location = provider_url(response)
    assert location.startswith(idp.metadata["authorization_endpoint"])
    params = query_params(location)
    assert params["client_id"] == "portal"
    assert params["redirect_uri"] == "http://portal.test/auth/oidc/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 20
    assert len(params["nonce"]) >= 20
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256
    assert params["login_hint"] == "alice@acme.example"
    assert set(params["scope"].split()) == {"openid", "email", "profile", "groups"}


def test_other_domains_get_the_password_step(client, idp, acme):
    approved_provider(acme, idp)
    page = start_sign_in(client, "bob@elsewhere.example")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'type="password"' in html
    assert 'value="bob@elsewhere.example"' in html


def test_pending_provider_is_not_used_for_discovery(client, idp, acme):
    from app.federation.models import ProviderStatus

    approved_provider(acme, idp, status=ProviderStatus.PENDING)
    assert 'type="password"' in start_sign_in(client, "alice@acme.example").get_data(as_text=True)


def test_first_sign_in_creates_the_user_just_in_time(client, idp, acme):
    approved_provider(acme, idp, jit_enabled=True, jit_role=Role.SUPPLIER_USER)
    idp.set_user("alice", **person("alice@acme.example", name="Alice Adams"))

    response = sso_sign_in(client, "alice@acme.example", "alice")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/home")
    assert signed_in_as(client, "alice@acme.example")
    user = db.session.scalar(select(User).where(User.email == "alice@acme.example"))
    assert user.name == "Alice Adams"
    assert user.password_hash is None
    assert user.roles == {Role.SUPPLIER_USER}
    assert user.organization.id == acme.id
    identity = db.session.scalar(select(UserIdentity).where(UserIdentity.user_id == user.id))
    assert (identity.issuer, identity.subject) == (idp.issuer, "alice")
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.auth_method == "sso"
    assert {"federation.user_provisioned", "federation.identity_linked", "auth.login"} <= set(
        _actions()
    )


def test_later_sign_ins_match_the_subject_even_when_the_email_changed(client, idp, acme):
    approved_provider(acme, idp, jit_enabled=True, jit_role=Role.SUPPLIER_USER)
    idp.set_user("alice", **person("alice@acme.example"))
    sso_sign_in(client, "alice@acme.example", "alice")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/home").get_data(True))})

    idp.set_user("alice", **person("alice.adams@acme.example"))
    assert sso_sign_in(client, "alice@acme.example", "alice").status_code == 302
    assert signed_in_as(client, "alice@acme.example")
    assert db.session.scalar(select(User).where(User.email == "alice.adams@acme.example")) is None


def test_another_subject_with_the_same_email_is_not_let_in(client, idp, acme):
    """Matching is on (issuer, subject): an email alone never opens someone's account."""
    approved_provider(acme, idp, jit_enabled=True, jit_role=Role.SUPPLIER_USER)
    idp.set_user("alice", **person("alice@acme.example"))
    sso_sign_in(client, "alice@acme.example", "alice", requests.Session())
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/home").get_data(True))})

    idp.set_user("impostor", **person("alice@acme.example"))
    response = sso_sign_in(client, "alice@acme.example", "impostor")

    assert response.headers["Location"].endswith("/auth/oidc/link")
    assert not signed_in_as(client, "alice@acme.example")
    page = client.get("/auth/oidc/link").get_data(as_text=True)
    assert "Enter its password once" in page


def test_existing_account_is_linked_only_after_its_password(client, idp, acme):
    approved_provider(acme, idp)
    user = UserFactory(email="bob@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=acme)
    idp.set_user("bob-at-idp", **person("bob@acme.example"))

    response = sso_sign_in(client, "bob@acme.example", "bob-at-idp")
    assert response.headers["Location"].endswith("/auth/oidc/link")
    assert not signed_in_as(client, "bob@acme.example")

    page = client.get("/auth/oidc/link")
    wrong = client.post(
        "/auth/oidc/link",
        data={"password": "not the password", "csrf_token": csrf_token(page.get_data(True))},
    )
    assert wrong.status_code == 401
    assert db.session.scalar(select(UserIdentity)) is None

    page = client.get("/auth/oidc/link")
    right = client.post(
        "/auth/oidc/link",
        data={"password": PASSWORD, "csrf_token": csrf_token(page.get_data(True))},
    )
    assert right.status_code == 302
    assert signed_in_as(client, "bob@acme.example")
    identity = db.session.scalar(select(UserIdentity))
    assert (identity.user_id, identity.subject) == (user.id, "bob-at-idp")

    # From now on the provider alone signs Bob in.
    other_browser = client.application.test_client()
    assert sso_sign_in(other_browser, "bob@acme.example", "bob-at-idp").status_code == 302
    assert signed_in_as(other_browser, "bob@acme.example")


def test_sso_required_organization_refuses_the_password(client, idp, acme):
    approved_provider(acme, idp, sso_required=True)
    UserFactory(email="carol@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)

    response = login(client, "carol@acme.example", PASSWORD)

    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "requires its people to sign in through Acme SSO" in html
    assert "Sign in with Acme SSO" in html
    assert not signed_in_as(client, "carol@acme.example")
    assert "auth.login_refused" in _actions()


def test_password_still_works_where_sso_is_optional(client, idp, acme):
    approved_provider(acme, idp, sso_required=False)
    UserFactory(email="carol@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)
    assert login(client, "carol@acme.example", PASSWORD).status_code == 302
    assert signed_in_as(client, "carol@acme.example")


def test_sign_out_ends_the_session_and_offers_the_providers_end_session(client, idp, acme):
    approved_provider(acme, idp, jit_enabled=True, jit_role=Role.SUPPLIER_USER)
    idp.set_user("alice", **person("alice@acme.example"))
    browser = requests.Session()
    sso_sign_in(client, "alice@acme.example", "alice", browser)

    token = csrf_token(client.get("/home").get_data(as_text=True))
    page = client.post("/logout", data={"csrf_token": token})

    assert page.status_code == 200
    assert not signed_in_as(client, "alice@acme.example")
    html = page.get_data(as_text=True)
    assert "Also sign out of Acme SSO" in html
    end_session = html.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    params = query_params(end_session)
    assert end_session.startswith(idp.metadata["end_session_endpoint"])
    assert params["post_logout_redirect_uri"] == AFTER_LOGOUT
    assert params["id_token_hint"].count(".") == 2
    # The provider signs the person out and sends them back to the portal's sign-in page.
    assert logout_flow(browser, end_session).startswith(AFTER_LOGOUT + "?state=")
    row = db.session.scalar(select(UserSession))
    assert row.end_reason == "logout"


def test_login_page_button_starts_sso_for_a_named_provider(client, idp, acme):
    provider = approved_provider(acme, idp, jit_enabled=True, jit_role=Role.SUPPLIER_USER)
    idp.set_user("alice", **person("alice@acme.example"))
    token = csrf_token(client.get("/login").get_data(as_text=True))
    started = client.post(f"/auth/oidc/{provider.id}/start", data={"csrf_token": token})
    callback = at_provider(provider_url(started), "alice")
    assert client.get(callback).status_code == 302
    assert signed_in_as(client, "alice@acme.example")
