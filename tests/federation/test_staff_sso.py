"""Hospital staff sign in with the hospital's own provider; their roles follow its groups claim
at every sign-in, and their provider (not the portal) owns the second factor."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.db import db
from app.orgs.roles import Role
from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import approved_provider, person, roles_of, sso_sign_in

STAFF_GROUPS = {
    "ap-clerks": "finance_clerk",
    "ap-leads": "finance_manager",
    "procurement": "procurement_admin",
    "integration": "ops",
}


@pytest.fixture
def hospital(idp):
    org = OrganizationFactory(buyer=True, name="St Example Hospital")
    approved_provider(
        org,
        idp,
        name="Hospital Entra ID",
        domains=("hospital.example",),
        jit_enabled=True,
        role_mapping=STAFF_GROUPS,
    )
    return org


def _fran() -> User:
    return db.session.scalar(select(User).where(User.email == "fran@hospital.example"))


def test_staff_role_comes_from_the_groups_claim_without_a_portal_mfa_step(client, idp, hospital):
    idp.set_user("fran", **person("fran@hospital.example", groups=("ap-clerks", "all-staff")))

    response = sso_sign_in(client, "fran@hospital.example", "fran")

    assert response.headers["Location"].endswith("/home")
    home = client.get("/home").get_data(as_text=True)
    assert "PO &amp; receipts lookup" in home
    assert roles_of(_fran()) == {Role.FINANCE_CLERK}
    assert client.get("/admin/organizations").status_code == 403


def test_group_changes_are_applied_at_the_next_sign_in(client, app, idp, hospital):
    idp.set_user("fran", **person("fran@hospital.example", groups=("ap-clerks",)))
    sso_sign_in(client, "fran@hospital.example", "fran", requests.Session())
    assert roles_of(_fran()) == {Role.FINANCE_CLERK}

    idp.set_user("fran", **person("fran@hospital.example", groups=("ap-leads", "procurement")))
    later = app.test_client()
    sso_sign_in(later, "fran@hospital.example", "fran")

    assert roles_of(_fran()) == {Role.FINANCE_MANAGER, Role.PROCUREMENT_ADMIN}
    assert later.get("/admin/organizations").status_code == 200
    synced = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "federation.roles_synced")
    ).all()
    assert synced[-1].details == {
        "before": ["finance_clerk"],
        "after": ["finance_manager", "procurement_admin"],
    }


def test_someone_taken_out_of_every_portal_group_is_refused_and_signed_out(
    client, app, idp, hospital
):
    idp.set_user("fran", **person("fran@hospital.example", groups=("integration",)))
    sso_sign_in(client, "fran@hospital.example", "fran", requests.Session())
    assert client.get("/home").status_code == 200

    idp.set_user("fran", **person("fran@hospital.example", groups=("all-staff",)))
    response = sso_sign_in(app.test_client(), "fran@hospital.example", "fran")

    assert response.status_code == 403
    assert "No portal role" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302  # the earlier session ended too


def test_a_new_staff_member_without_a_mapped_group_gets_no_account(client, idp, hospital):
    idp.set_user("guest", **person("guest@hospital.example", groups=("visitors",)))
    response = sso_sign_in(client, "guest@hospital.example", "guest")
    assert response.status_code == 403
    assert db.session.scalar(select(User).where(User.email == "guest@hospital.example")) is None
