"""Break-glass for organizations that require company sign-in: named admins may still sign in
with their password and a second factor set up beforehand while the identity provider is down;
every use is audited and mailed to the other admins; only procurement admins or the
organization's own admins grant and revoke it."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from app.accounts.external import ExternalSignIn
from app.accounts.models import TotpCredential, User
from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.federation import break_glass
from app.federation.models import BreakGlassAccount, IdentityProvider
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import approved_provider, signed_in_as, start_sign_in
from tests.onboarding.helpers import last_mail, mails_to, text

# Nothing answers here: the organization's identity provider is down.
DOWN = "https://idp.acme.invalid"
BREAK_GLASS_WITHOUT_MFA = "Your break-glass access works only with two-step verification"


def _entries(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def _down_provider(org, *, sso_required: bool = True) -> IdentityProvider:
    return approved_provider(org, None, issuer=DOWN, sso_required=sso_required)


def _enrol(user: User) -> str:
    """Two-step verification set up beforehand: a confirmed authenticator secret."""
    secret = pyotp.random_base32()
    db.session.add(TotpCredential(user_id=user.id, secret=secret, confirmed_at=utcnow()))
    db.session.flush()
    return secret


@pytest.fixture
def procurement():
    return UserFactory(email="pat@hospital.example", role=Role.PROCUREMENT_ADMIN)


@pytest.fixture
def dana(acme):
    """The admin who is to be break-glass."""
    return UserFactory(email="dana@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=acme)


@pytest.fixture
def erin(acme):
    """Another admin of the organization, who is told of every break-glass use."""
    return UserFactory(email="erin@acme.example", role=Role.SUPPLIER_ADMIN, role__organization=acme)


@pytest.fixture
def carol(acme):
    """A normal member of the organization."""
    return UserFactory(email="carol@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)


def _password_then_code(client, email: str, secret: str):
    first = login(client, email, PASSWORD)
    assert first.status_code == 302, text(first)
    assert first.headers["Location"].endswith("/login/verify")
    page = text(client.get("/login/verify"))
    return client.post(
        "/login/verify",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)},
    )


# -- signing in -----------------------------------------------------------------------------
def test_break_glass_admin_signs_in_with_password_and_code_while_the_idp_is_down(
    client, acme, dana, erin, procurement
):
    provider = _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    secret = _enrol(dana)

    response = _password_then_code(client, "dana@acme.example", secret)

    assert response.status_code == 302, text(response)
    assert response.headers["Location"].endswith("/home")
    assert signed_in_as(client, "dana@acme.example")
    [used] = _entries("auth.break_glass_used")
    assert used.organization_id == acme.id
    assert used.details == {"provider_id": provider.id, "second_factor": "totp"}
    # The other admins hear of it; the person who used it is not mailed about themselves.
    message = last_mail("erin@acme.example")
    assert "Break-glass sign-in by dana@acme.example" in message.subject
    assert "Acme SSO" in message.body
    assert mails_to("dana@acme.example") == []


def test_a_normal_member_is_still_refused_and_sent_to_sso(client, acme, dana, carol, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    _enrol(carol)

    response = login(client, "carol@acme.example", PASSWORD)

    assert response.status_code == 403
    assert "Sign in with Acme SSO" in text(response)
    assert not signed_in_as(client, "carol@acme.example")
    # ... and the provider really is down: company sign-in cannot even start.
    assert start_sign_in(client, "carol@acme.example").status_code == 502
    assert _entries("auth.break_glass_used") == []


def test_an_admin_who_is_not_designated_is_refused(client, acme, dana, erin, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    _enrol(erin)

    response = login(client, "erin@acme.example", PASSWORD)

    assert response.status_code == 403
    assert "Sign in with Acme SSO" in text(response)


def test_break_glass_without_mfa_is_refused_with_the_message(client, acme, dana, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)

    response = login(client, "dana@acme.example", PASSWORD)

    assert response.status_code == 403
    assert BREAK_GLASS_WITHOUT_MFA in text(response)
    assert not signed_in_as(client, "dana@acme.example")
    # Never set up at sign-in either.
    assert client.get("/account/mfa/setup").status_code != 200
    [refused] = _entries("auth.login_refused")
    assert refused.details["reason"] == "break_glass_without_mfa"
    assert _entries("auth.break_glass_used") == []


def test_break_glass_never_skips_the_code(client, acme, dana, erin, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    _enrol(dana)

    first = login(client, "dana@acme.example", PASSWORD)
    assert first.headers["Location"].endswith("/login/verify")
    assert not signed_in_as(client, "dana@acme.example")
    page = text(client.get("/login/verify"))
    wrong = client.post("/login/verify", data={"code": "000000", "csrf_token": csrf_token(page)})

    assert wrong.status_code == 401
    assert not signed_in_as(client, "dana@acme.example")
    assert _entries("auth.break_glass_used") == []
    assert mails_to("erin@acme.example") == []


def test_revoked_break_glass_is_refused_again(client, acme, dana, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    _enrol(dana)
    break_glass.revoke(acme, dana.id, procurement)

    response = login(client, "dana@acme.example", PASSWORD)

    assert response.status_code == 403
    assert "Sign in with Acme SSO" in text(response)
    assert not break_glass.allowed(dana, db.session.scalar(select(IdentityProvider)))


def test_revoked_between_the_password_and_the_code_is_refused(client, acme, dana, procurement):
    _down_provider(acme)
    break_glass.grant(acme, dana, procurement)
    secret = _enrol(dana)
    assert login(client, "dana@acme.example", PASSWORD).status_code == 302

    break_glass.revoke(acme, dana.id, procurement)
    page = client.get("/login/verify")
    assert page.status_code == 403
    assert "Sign in with Acme SSO" in text(page)
    # The pending sign-in is gone: the code no longer finishes it.
    response = client.post(
        "/login/verify",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(text(page))},
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert not signed_in_as(client, "dana@acme.example")
    assert _entries("auth.break_glass_used") == []


def test_without_federation_nobody_is_break_glass(acme, dana):
    external = ExternalSignIn()
    assert external.break_glass_allowed(dana, None) is False
    assert external.break_glass_used(dana, None, "totp") is None


# -- granting and revoking ------------------------------------------------------------------
def test_procurement_admin_grants_and_revokes_from_the_review_page(
    client, acme, dana, carol, procurement
):
    provider = _down_provider(acme)
    login(client, "pat@hospital.example", PASSWORD)
    url = f"/admin/identity-providers/{provider.id}"
    page = text(client.get(url))
    assert "Break-glass accounts" in page
    assert "dana@acme.example" in page
    assert "carol@acme.example" not in page  # only admins may be designated

    granted = client.post(
        f"{url}/break-glass", data={"user_id": dana.id, "csrf_token": csrf_token(page)}
    )

    assert granted.status_code == 302
    row = db.session.scalar(select(BreakGlassAccount))
    assert (row.user_id, row.organization_id, row.granted_by_id) == (
        dana.id,
        acme.id,
        procurement.id,
    )
    assert row.revoked_at is None
    [entry] = _entries("federation.break_glass_granted")
    assert (entry.actor_user_id, entry.organization_id) == (procurement.id, acme.id)

    page = text(client.get(url))
    revoked = client.post(
        f"{url}/break-glass/{dana.id}/revoke", data={"csrf_token": csrf_token(page)}
    )

    assert revoked.status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
    [entry] = _entries("federation.break_glass_revoked")
    assert entry.actor_user_id == procurement.id
    assert not break_glass.allowed(dana, provider)


def test_the_organizations_admin_grants_from_its_provider_page(client, acme, dana, erin):
    # Company sign-in optional for now, so that Erin can sign in with her password.
    provider = _down_provider(acme, sso_required=False)
    login(client, "erin@acme.example", PASSWORD)
    url = f"/settings/identity-providers/{provider.id}"
    page = text(client.get(url))

    granted = client.post(
        f"{url}/break-glass", data={"user_id": dana.id, "csrf_token": csrf_token(page)}
    )

    assert granted.status_code == 302
    [entry] = _entries("federation.break_glass_granted")
    assert (entry.actor_user_id, entry.organization_id) == (erin.id, acme.id)
    assert break_glass.allowed(dana, provider)


def test_a_member_who_is_not_an_admin_cannot_grant(client, acme, dana, carol):
    provider = _down_provider(acme, sso_required=False)
    login(client, "carol@acme.example", PASSWORD)
    page = text(client.get("/home"))
    url = f"/settings/identity-providers/{provider.id}/break-glass"

    response = client.post(url, data={"user_id": dana.id, "csrf_token": csrf_token(page)})

    assert response.status_code == 403
    assert db.session.scalar(select(BreakGlassAccount)) is None


def test_another_organizations_admin_cannot_grant(client, acme, dana):
    provider = _down_provider(acme, sso_required=False)
    other = OrganizationFactory(name="Other Medical")
    outsider = UserFactory(
        email="olga@other.example", role=Role.SUPPLIER_ADMIN, role__organization=other
    )
    login(client, "olga@other.example", PASSWORD)
    page = text(client.get("/home"))
    url = f"/settings/identity-providers/{provider.id}/break-glass"

    response = client.post(url, data={"user_id": dana.id, "csrf_token": csrf_token(page)})

    assert response.status_code == 404
    assert db.session.scalar(select(BreakGlassAccount)) is None
    with pytest.raises(break_glass.BreakGlassError):
        break_glass.grant(acme, dana, outsider)
    with pytest.raises(break_glass.BreakGlassError):
        break_glass.revoke(acme, dana.id, outsider)


def test_only_admins_of_the_organization_may_be_designated(acme, carol, procurement):
    with pytest.raises(break_glass.BreakGlassError, match="not an active admin"):
        break_glass.grant(acme, carol, procurement)
    assert _entries("federation.break_glass_granted") == []
