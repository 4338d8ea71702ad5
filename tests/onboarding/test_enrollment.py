"""Two ways in: a procurement admin's invitation and self-registration, each by a mailed,
single-use, expiring link; nothing exists until the link is used."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.accounts.models import User
from app.db import db
from app.onboarding.models import Enrollment
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import last_mail, link_in, mails_to, post_form, text

NEW_PASSWORD = "a long new password 1"


def _invite(procurement, company="Acme Implants", email="ceo@acme.example", kind="supplier"):
    return post_form(
        procurement.browser,
        "/admin/onboarding/invitations",
        {"company_name": company, "kind": kind, "contact_name": "Ada Acme", "email": email},
    )


def _accept(client, path, name="Ada Acme", password=NEW_PASSWORD):
    return post_form(client, path, {"name": name, "password": password, "confirm": password})


def test_invitation_creates_the_organization_and_its_admin_when_the_link_is_used(
    client, procurement
):
    response = _invite(procurement)
    assert response.status_code == 302
    assert (
        db.session.scalar(select(Organization).where(Organization.name == "Acme Implants")) is None
    )

    mail = last_mail("ceo@acme.example")
    assert "invited Acme Implants" in mail.body
    path = link_in(mail)
    assert path.startswith("/enroll/")
    page = client.get(path)
    assert "Welcome, Acme Implants" in text(page)

    response = _accept(client, path)
    assert response.status_code == 302
    org = db.session.scalar(select(Organization).where(Organization.name == "Acme Implants"))
    assert (org.kind, org.status) == (OrgKind.SUPPLIER, OrgStatus.DRAFT)
    assert response.headers["Location"].endswith("/onboarding")
    user = db.session.scalar(select(User).where(User.email == "ceo@acme.example"))
    assert user.roles == {Role.SUPPLIER_ADMIN}
    assert user.organization.id == org.id
    # The new admin is signed in and lands on the profile.
    landing = client.get(response.headers["Location"], follow_redirects=True)
    assert landing.request.path == f"/organizations/{org.id}/profile"
    assert "Submit for review" in text(landing)


def test_an_invitation_link_works_once(client, procurement, app):
    _invite(procurement)
    path = link_in(last_mail("ceo@acme.example"))
    assert _accept(client, path).status_code == 302
    other = app.test_client()
    assert other.get(path).status_code == 404
    assert "expired or was already used" in text(other.get(path))


def test_an_expired_invitation_is_refused(client, procurement):
    _invite(procurement)
    path = link_in(last_mail("ceo@acme.example"))
    enrollment = db.session.scalar(select(Enrollment))
    enrollment.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db.session.commit()
    assert client.get(path).status_code == 404
    assert _accept_without_page(client, path).status_code == 404
    assert db.session.scalar(select(User).where(User.email == "ceo@acme.example")) is None


def _accept_without_page(client, path):
    """Someone replays the form post on an expired link (the token comes from another page)."""
    token_page = text(client.get("/register"))
    from tests.conftest import csrf_token

    data = {"name": "X", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return client.post(path, data={**data, "csrf_token": csrf_token(token_page)})


def test_invitation_refuses_an_existing_company_or_address(procurement):
    UserFactory(email="taken@acme.example")
    OrganizationFactory(name="Taken Medical")
    response = _invite(procurement, email="taken@acme.example")
    assert response.status_code == 422
    assert "taken@acme.example already has an account" in text(response)
    response = _invite(procurement, company="taken medical", email="new@taken.example")
    assert response.status_code == 422
    assert "An organization named &#39;taken medical&#39; already exists" in text(response)
    assert mails_to("taken@acme.example") == []
    assert mails_to("new@taken.example") == []


def test_suppliers_cannot_send_invitations(client, supplier_admin):
    assert client.get("/admin/onboarding/invitations").status_code == 403


def test_self_registration_verifies_the_email_before_anything_exists(client, app):
    response = post_form(
        client,
        "/register",
        {
            "company_name": "Bright Partners",
            "kind": "partner",
            "contact_name": "Bo Bright",
            "email": "Bo@Bright.example",
        },
    )
    assert response.headers["Location"].endswith("/register/sent")
    assert (
        db.session.scalar(select(Organization).where(Organization.name == "Bright Partners"))
        is None
    )
    assert db.session.scalar(select(User).where(User.email == "bo@bright.example")) is None

    mail = last_mail("bo@bright.example")
    assert "Confirm your email" in mail.subject
    response = _accept(client, link_in(mail), name="Bo Bright")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "bo@bright.example"))
    assert user.roles == {Role.PARTNER_ADMIN}
    assert user.organization.kind == OrgKind.PARTNER
    assert "Bright Partners" in text(client.get("/home"))  # signed in by the link
    assert login(app.test_client(), "bo@bright.example", NEW_PASSWORD).status_code == 302


def test_registration_with_a_known_address_reveals_nothing_and_creates_nothing(client):
    UserFactory(email="known@acme.example")
    response = post_form(
        client,
        "/register",
        {
            "company_name": "Acme Two",
            "kind": "supplier",
            "contact_name": "K",
            "email": "known@acme.example",
        },
    )
    assert response.headers["Location"].endswith("/register/sent")
    assert last_mail("known@acme.example").subject == "Someone tried to register with your address"
    assert db.session.scalar(select(Enrollment)) is None


def test_registration_form_names_the_missing_fields(client):
    response = post_form(
        client,
        "/register",
        {"company_name": "", "kind": "supplier", "contact_name": "", "email": "nope"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "Invalid email address" in page
    assert "This field is required" in page


def test_a_weak_password_is_refused_and_the_link_still_works(client):
    post_form(
        client,
        "/register",
        {
            "company_name": "Acme",
            "kind": "supplier",
            "contact_name": "A",
            "email": "a@acme.example",
        },
    )
    path = link_in(last_mail("a@acme.example"))
    response = _accept(client, path, password="short")
    assert "at least 12 characters" in text(response)
    assert db.session.scalar(select(Organization).where(Organization.name == "Acme")) is None
    assert _accept(client, path).status_code == 302
