"""`flask clients create|revoke` for automation and support."""

from __future__ import annotations

import base64
import json

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.oauth.models import ApiClient
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import ec_key, public_jwks


def _token(client, client_id: str, secret: str):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )


def test_create_prints_json_and_the_secret_works(app, client):
    OrganizationFactory(
        supplier=True, name="Acme Implants", approved_scopes=["invoices:write", "documents:read"]
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["clients", "create", "--org", "Acme Implants", "--scopes", "invoices:write"]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["auth_method"] == "client_secret_basic"
    assert created["scopes"] == ["invoices:write"]
    assert created["client_secret"].startswith("cs_")

    response = _token(client, created["client_id"], created["client_secret"])
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "invoices:write"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "oauth.client.created"))
    assert entry.actor_label == "cli"


def test_create_with_private_key_jwt_reads_a_jwks_file(app, tmp_path):
    OrganizationFactory(supplier=True, name="Acme Implants")
    db.session.commit()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(ec_key())))
    result = app.test_cli_runner().invoke(
        args=[
            "clients",
            "create",
            "--org",
            "Acme Implants",
            "--scopes",
            "invoices:write",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            str(jwks_file),
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["client_secret"] is None


def test_create_explains_what_is_wrong(app):
    OrganizationFactory(supplier=True, name="Acme Implants", approved_scopes=["documents:read"])
    db.session.commit()
    runner = app.test_cli_runner()
    unknown_org = runner.invoke(args=["clients", "create", "--org", "Nope", "--scopes", "x"])
    assert "no organization named 'Nope'" in unknown_org.output
    not_approved = runner.invoke(
        args=["clients", "create", "--org", "Acme Implants", "--scopes", "invoices:write"]
    )
    assert not_approved.exit_code != 0
    assert "not approved for: invoices:write" in not_approved.output
    assert db.session.scalar(select(ApiClient.id)) is None


def test_revoke_stops_the_client(app, client):
    OrganizationFactory(supplier=True, name="Acme Implants")
    db.session.commit()
    runner = app.test_cli_runner()
    created = json.loads(
        runner.invoke(
            args=["clients", "create", "--org", "Acme Implants", "--scopes", "documents:read"]
        ).output
    )
    result = runner.invoke(args=["clients", "revoke", created["client_id"]])
    assert result.exit_code == 0, result.output
    assert f"revoked {created['client_id']}" in result.output
    assert _token(client, created["client_id"], created["client_secret"]).status_code == 401
    again = runner.invoke(args=["clients", "revoke", created["client_id"]])
    assert "already revoked" in again.output
    missing = runner.invoke(args=["clients", "revoke", "cl_nope"])
    assert missing.exit_code != 0
