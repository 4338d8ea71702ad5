"""Procurement's controls: resend and revoke invitations, suspend and reactivate an
organization, and reset someone's second factor with four eyes."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from app.accounts import mfa
from app.accounts.models import TotpCredential, User, UserSession
from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import Document
from app.oauth.tokens import issue_access_token
from app.onboarding.models import Enrollment
from app.orgs.models import Organization, OrgStatus
from app.orgs.roles import Role
from tests.conftest import TOTP_SECRET_RE, csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.formats.helpers import local
from tests.oauth.helpers import new_client
from tests.onboarding.conftest import signed_in_browser
from tests.onboarding.helpers import last_mail, link_in, post_form, text


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _post(admin, url: str, data: dict | None = None, page: str = "/admin/onboarding/invitations"):
    response = post_form(admin.browser, url, data or {}, page=page)
    assert response.status_code == 302, text(response)
    return text(admin.browser.get(response.headers["Location"]))


def _invite(procurement, email: str = "new@acme.example") -> Enrollment:
    _post(
        procurement,
        "/admin/onboarding/invitations",
        {
            "company_name": "Acme Gloves",
            "kind": "supplier",
            "contact_name": "Ann",
            "email": email,
        },
    )
    return db.session.scalars(select(Enrollment).where(Enrollment.email == email)).one()


# -- invitations ---------------------------------------------------------------------------------


def test_resending_an_invitation_makes_a_new_link_and_kills_the_old(client, procurement):
    invitation = _invite(procurement)
    old_link = link_in(last_mail("new@acme.example"))
    page = _post(procurement, f"/admin/onboarding/invitations/{invitation.id}/resend")
    assert "the old one no longer works" in page
    new_link = link_in(last_mail("new@acme.example"))
    assert new_link != old_link
    assert client.get(old_link).status_code == 404
    assert client.get(new_link).status_code == 200
    assert "onboarding.invitation_resent" in _actions()


def test_a_revoked_invitation_link_no_longer_works(client, procurement):
    invitation = _invite(procurement)
    link = link_in(last_mail("new@acme.example"))
    page = _post(procurement, f"/admin/onboarding/invitations/{invitation.id}/revoke")
    assert "its link no longer works" in page
    assert "revoked" in page
    assert client.get(link).status_code == 404
    page = _post(procurement, f"/admin/onboarding/invitations/{invitation.id}/resend")
    assert "This invitation was revoked" in page
    assert "onboarding.invitation_revoked" in _actions()


# -- suspension ----------------------------------------------------------------------------------


def test_suspension_signs_people_out_refuses_tokens_and_uploads(app, client, procurement):
    org = OrganizationFactory(supplier=True, name="Suspended Supply")
    person = UserFactory(email="sam@suspended.example", role=Role.SUPPLIER_ADMIN)
    person.memberships[0].organization = org
    db.session.commit()
    browser = signed_in_browser(app, person)
    assert browser.get("/documents/upload").status_code == 200
    api_client, _ = new_client(org)
    scopes = ["invoices:read", "invoices:write"]
    token = {"Authorization": f"Bearer {issue_access_token(api_client, scopes)}"}
    assert client.get("/api/v1/invoices", headers=token).status_code == 200
    sent = client.post(
        "/api/v1/invoices",
        data=local("csv_two_invoices.csv"),
        headers={**token, "Content-Type": "text/csv"},
    )
    assert sent.status_code == 202, sent.json
    in_flight = {d["id"]: d["state"] for d in sent.json["documents"]}

    page = _post(
        procurement,
        f"/admin/onboarding/{org.id}/suspend",
        {"reason": "Fraud investigation"},
        page=f"/admin/onboarding/{org.id}",
    )
    assert "Suspended: its people were signed out" in page
    db.session.expire_all()
    assert db.session.get(Organization, org.id).status == OrgStatus.SUSPENDED
    # The session ended at once; the next page asks to sign in and says why.
    assert browser.get("/documents/upload").status_code == 302
    assert "organization was suspended" in text(browser.get("/login"))
    # The client's tokens are refused at its very next call.
    refused = client.get("/api/v1/invoices", headers=token)
    assert refused.status_code == 401
    assert "organization is not active" in refused.headers["WWW-Authenticate"]
    # Documents already received are kept as they were, not dropped.
    db.session.expire_all()
    kept = db.session.scalars(select(Document).where(Document.id.in_(in_flight))).all()
    assert {d.id: d.state.value for d in kept} == in_flight
    # Signing in again works (to read), but sending is refused with a clear answer.
    browser = signed_in_browser(app, person)
    upload = browser.get("/documents/upload")
    assert upload.status_code == 403
    assert "Only an active supplier can send documents." in text(upload)
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "organization.suspended")
    ).one()
    assert entry.details["reason"] == "Fraud investigation"
    assert entry.details["sessions_ended"] == 1

    page = _post(
        procurement,
        f"/admin/onboarding/{org.id}/reactivate",
        page=f"/admin/onboarding/{org.id}",
    )
    assert "Reactivated." in page
    assert client.get("/api/v1/invoices", headers=token).status_code == 200
    assert browser.get("/documents/upload").status_code == 200


def test_only_an_active_organization_is_suspended(procurement):
    org = OrganizationFactory(supplier=True, status=OrgStatus.SUBMITTED)
    page = _post(
        procurement,
        f"/admin/onboarding/{org.id}/suspend",
        {"reason": "x"},
        page=f"/admin/onboarding/{org.id}",
    )
    assert "Only an active organization can be suspended" in page


# -- second factor reset -------------------------------------------------------------------------


def _enrolled_supplier_user(app) -> tuple[User, str]:
    org = OrganizationFactory(supplier=True, name="Lost Phone Ltd")
    user = UserFactory(email="lee@lostphone.example", role=Role.SUPPLIER_ADMIN)
    user.memberships[0].organization = org
    db.session.commit()
    browser = signed_in_browser(app, user)
    page = text(browser.get("/account/mfa/setup"))
    secret = TOTP_SECRET_RE.search(page).group(1).replace(" ", "")
    browser.post(
        "/account/mfa/setup",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)},
    )
    db.session.expire_all()
    assert mfa.is_enrolled(db.session.get(User, user.id))
    user.browser = browser
    return user, secret


def test_a_second_factor_reset_needs_two_admins(app, client, procurement, second_procurement):
    user, _ = _enrolled_supplier_user(app)
    org_id = user.organization.id
    page_url = f"/admin/onboarding/{org_id}"
    page = _post(
        procurement,
        f"{page_url}/users/{user.id}/mfa-reset",
        {"reason": "Phone lost, identity checked by call-back"},
        page=page_url,
    )
    assert "a second procurement admin must confirm it" in page
    page = _post(procurement, f"{page_url}/users/{user.id}/mfa-reset/confirm", page=page_url)
    assert "You asked for this reset; a second admin must confirm it." in page
    db.session.expire_all()
    assert mfa.is_enrolled(db.session.get(User, user.id))

    page = _post(second_procurement, f"{page_url}/users/{user.id}/mfa-reset/confirm", page=page_url)
    assert "is reset; they set it up at next sign-in" in page
    db.session.expire_all()
    fresh = db.session.get(User, user.id)
    assert not mfa.is_enrolled(fresh)
    assert fresh.mfa_enrol_required
    assert (
        db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id)) is None
    )
    live = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    assert live == []
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "mfa.reset")).one()
    assert entry.actor_user_id == second_procurement.id
    assert entry.details["requested_by_id"] == procurement.id

    # At the next sign-in a supplier admin (no MFA required by role) must set it up again.
    token = csrf_token(text(client.get("/login")))
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"].endswith("/account/mfa/setup")
    assert client.get("/home").status_code == 302  # no session until the new factor is set up
    # Setting it up (as the sign-in helper does) clears the requirement.
    assert login(client, user.email, PASSWORD).headers["Location"].endswith("/home")
    db.session.expire_all()
    assert mfa.is_enrolled(db.session.get(User, user.id))
    assert not db.session.get(User, user.id).mfa_enrol_required
