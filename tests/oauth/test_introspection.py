"""POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009), and the discovery
document (RFC 8414)."""

from __future__ import annotations

import base64

from sqlalchemy import select

from app.db import db
from app.oauth.models import RevokedToken
from app.oauth.tokens import issue_access_token
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import claims_of, new_client


def _basic(client_id: str, secret: str) -> dict:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _introspect(client, who: tuple, token: str):
    return client.post("/oauth/introspect", data={"token": token}, headers=_basic(*who))


def test_a_client_introspects_its_own_token(client):
    api_client, secret = new_client(
        OrganizationFactory(supplier=True, approved_scopes=["documents:read"])
    )
    token = issue_access_token(api_client)
    response = _introspect(client, (api_client.client_id, secret), token)
    assert response.status_code == 200
    body = response.json
    claims = claims_of(token)
    assert body == {
        "active": True,
        "token_type": "Bearer",
        "scope": "documents:read",
        "client_id": api_client.client_id,
        "sub": api_client.client_id,
        "aud": claims["aud"],
        "iss": claims["iss"],
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
    }


def test_another_clients_token_is_simply_inactive(client):
    org = OrganizationFactory(supplier=True)
    mine, my_secret = new_client(org, name="mine")
    theirs, _ = new_client(OrganizationFactory(supplier=True), name="theirs")
    response = _introspect(client, (mine.client_id, my_secret), issue_access_token(theirs))
    assert response.json == {"active": False}
    assert _introspect(client, (mine.client_id, my_secret), "garbage").json == {"active": False}


def test_introspection_needs_an_authenticated_client(client):
    api_client, _ = new_client(OrganizationFactory(supplier=True))
    token = issue_access_token(api_client)
    anonymous = client.post("/oauth/introspect", data={"token": token})
    assert anonymous.status_code == 401
    wrong = _introspect(client, (api_client.client_id, "cs_wrong"), token)
    assert wrong.status_code == 401


def test_revoking_a_token_denies_it_until_it_expires(client, redis):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    token = issue_access_token(api_client)
    other = issue_access_token(api_client)
    who = (api_client.client_id, secret)

    response = client.post("/oauth/revoke", data={"token": token}, headers=_basic(*who))
    assert response.status_code == 200

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert "revoked" in me.json["detail"]
    assert _introspect(client, who, token).json == {"active": False}
    assert _introspect(client, who, other).json["active"] is True

    claims = claims_of(token)
    row = db.session.scalar(select(RevokedToken).where(RevokedToken.jti == claims["jti"]))
    assert int(row.expires_at.timestamp()) == claims["exp"]
    ttl = redis.ttl("oauth:revoked:" + claims["jti"])
    assert 850 < ttl <= 901


def test_revocation_of_unknown_tokens_answers_200_and_changes_nothing(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    response = client.post(
        "/oauth/revoke", data={"token": "not-ours"}, headers=_basic(api_client.client_id, secret)
    )
    assert response.status_code == 200
    assert db.session.scalar(select(RevokedToken.id)) is None


def test_a_client_cannot_revoke_another_clients_token(client):
    mine, my_secret = new_client(OrganizationFactory(supplier=True), name="mine")
    theirs, _ = new_client(OrganizationFactory(supplier=True), name="theirs")
    token = issue_access_token(theirs)
    response = client.post(
        "/oauth/revoke", data={"token": token}, headers=_basic(mine.client_id, my_secret)
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_discovery_document(client):
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json
    assert meta["issuer"] == "http://portal.test"
    assert meta["token_endpoint"] == "http://portal.test/oauth/token"
    assert meta["jwks_uri"] == "http://portal.test/.well-known/jwks.json"
    assert meta["introspection_endpoint"] == "http://portal.test/oauth/introspect"
    assert meta["revocation_endpoint"] == "http://portal.test/oauth/revoke"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    assert "webhooks:manage" in meta["scopes_supported"]
