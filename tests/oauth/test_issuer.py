"""The issuer comes from configuration only: the Host header a caller sends changes neither a
token's `iss` nor the metadata document, and production does not start without OAUTH_ISSUER."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

import config
from app import create_app
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import claims_of, new_client

EVIL = {"Host": "evil.example"}


def _token(client, headers: dict[str, str]) -> dict:
    api_client, secret = new_client(
        OrganizationFactory(supplier=True, approved_scopes=["invoices:read"])
    )
    raw = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}", **headers},
    )
    assert response.status_code == 200, response.json
    return claims_of(response.json["access_token"])


@pytest.fixture
def unset_issuer(app, monkeypatch):
    """Development as `make run` has it: no OAUTH_ISSUER, a PORTAL_URL."""
    monkeypatch.setitem(app.config, "OAUTH_ISSUER", None)
    monkeypatch.setitem(app.config, "PORTAL_URL", "https://portal.hospital.example/")


def test_the_host_header_does_not_change_the_tokens_issuer(client):
    claims = _token(client, EVIL)
    assert claims["iss"] == "http://portal.test"
    assert claims["aud"] == "http://portal.test/api"


def test_without_oauth_issuer_development_uses_portal_url_not_the_host(client, unset_issuer):
    claims = _token(client, EVIL)
    assert claims["iss"] == "https://portal.hospital.example"
    assert claims["aud"] == "https://portal.hospital.example/api"
    meta = client.get("/.well-known/oauth-authorization-server", headers=EVIL).json
    assert meta["issuer"] == "https://portal.hospital.example"
    assert meta["token_endpoint"] == "https://portal.hospital.example/oauth/token"
    assert "evil.example" not in str(meta)


def test_the_metadata_documents_issuer_ignores_the_host_header(client):
    meta = client.get("/.well-known/oauth-authorization-server", headers=EVIL).json
    assert meta["issuer"] == "http://portal.test"
    assert "evil.example" not in str(meta)


def test_a_token_minted_under_another_host_is_still_accepted_here(client, unset_issuer):
    """One issuer whatever the Host: a token is valid on every name the portal answers to."""
    from tests.intake.helpers import bearer

    headers = bearer(OrganizationFactory(supplier=True))
    assert client.get("/api/v1/me", headers={**headers, **EVIL}).status_code == 200


def _production(**overrides):
    settings = {
        "SECRET_KEY": "x" * 40,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "OAUTH_ISSUER": "https://portal.hospital.example",
    }
    return create_app("production", settings | overrides)


@pytest.mark.parametrize("issuer", [None, ""])
def test_production_refuses_to_start_without_oauth_issuer(issuer):
    with pytest.raises(config.ConfigError, match="OAUTH_ISSUER must be set in production"):
        _production(OAUTH_ISSUER=issuer)


def test_production_starts_with_oauth_issuer():
    app = _production()
    with app.test_request_context("/", headers=EVIL):
        from app.oauth import settings

        assert settings.issuer() == "https://portal.hospital.example"
