"""The operator commands: create-user, orgs list --json, seed-demo."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.accounts.models import User
from app.db import db
from app.demo import DEMO_PASSWORD, demo_logins
from app.orgs.models import Organization
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.orgs import OrganizationFactory


def test_create_user_then_sign_in(app, client):
    org = OrganizationFactory(name="Acme Implants")
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "create-user",
            "--email",
            "new@acme.example",
            "--password",
            "a long password 1",
            "--org",
            "Acme Implants",
            "--role",
            "supplier_admin",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "new@acme.example"))
    assert user.roles == {Role.SUPPLIER_ADMIN}
    assert user.organization.id == org.id
    assert user.password_hash.startswith("$argon2id$")
    assert login(client, "new@acme.example", "a long password 1").status_code == 302


def test_create_user_explains_what_is_wrong(app):
    OrganizationFactory(name="Acme Implants")
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "a@b.example",
            "--password",
            "a long password 1",
            "--org",
            "Nope",
            "--role",
            "ops",
        ]
    )
    assert result.exit_code != 0
    assert "no organization named 'Nope'" in result.output
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "a@b.example",
            "--password",
            "a long password 1",
            "--org",
            "Acme Implants",
            "--role",
            "ops",
        ]
    )
    assert "role ops is not available in a supplier organization" in result.output
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "a@b.example",
            "--password",
            "short",
            "--org",
            "Acme Implants",
            "--role",
            "supplier_user",
        ]
    )
    assert "at least 12 characters" in result.output


def test_orgs_list_json(app):
    OrganizationFactory(name="Acme Implants")
    OrganizationFactory(partner=True, name="Link Network")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["orgs", "list", "--json"])
    rows = json.loads(result.output)
    assert {(r["name"], r["kind"], r["state"]) for r in rows} == {
        ("Acme Implants", "supplier", "ACTIVE"),
        ("Link Network", "partner", "ACTIVE"),
    }
    assert all(isinstance(r["id"], int) for r in rows)


def test_seed_demo_creates_every_role_and_is_idempotent(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["seed-demo"])
    assert "(0 new users)" in second.output
    roles = {role for _, role in demo_logins()}
    assert roles == {r.value for r in Role}
    for email, _ in demo_logins()[:3]:
        assert email in first.output
    assert login(client, demo_logins()[0][0], DEMO_PASSWORD).status_code == 302


def test_seed_demo_loads_an_exclusion_list_so_screening_runs_for_real(app):
    from app.onboarding.screening import current_load, find_hits
    from tests.factories.orgs import OrganizationFactory

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    assert current_load() is not None
    # The demo's own "Shady Surgical Supply LLC" is on the list; a new name is not.
    shady = db.session.scalar(
        select(Organization).where(Organization.name == "Shady Surgical Supply LLC")
    )
    assert find_hits(shady)
    assert not find_hits(OrganizationFactory(supplier=True, name="Lakeside Medical"))
