"""POST /oauth/token: client_credentials with each client authentication, RFC 9068 tokens."""

from __future__ import annotations

import base64
import time

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.db import db
from app.oauth import keys
from app.oauth.models import ApiClient, SigningKey
from app.orgs.models import OrgStatus
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import (
    ago,
    assertion,
    claims_of,
    ec_key,
    header_of,
    jwks_server,
    new_client,
    public_jwks,
)

TOKEN = "/oauth/token"
AUDIENCE = "http://portal.test/oauth/token"


def _basic(client_id: str, secret: str) -> dict:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _grant(**extra) -> dict:
    return {"grant_type": "client_credentials", **extra}


def test_basic_client_gets_an_rfc9068_token(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["invoices:write", "invoices:read"])
    api_client, secret = new_client(org, scopes=["invoices:write", "invoices:read"])

    response = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "invoices:write invoices:read"
    assert "refresh_token" not in body
    header, claims = header_of(body["access_token"]), claims_of(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] == keys.current_kid()
    assert claims["iss"] == "http://portal.test"
    assert claims["aud"] == "http://portal.test/api"
    assert claims["sub"] == claims["client_id"] == api_client.client_id
    assert claims["scope"] == "invoices:write invoices:read"
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 5
    assert len(claims["jti"]) >= 16


def test_post_client_sends_its_secret_in_the_body(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True), "client_secret_post")
    response = client.post(TOKEN, data=_grant(client_id=api_client.client_id, client_secret=secret))
    assert response.status_code == 200, response.json
    # A post client may not switch to Basic: the registered method is the only one.
    basic = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))
    assert basic.status_code == 401
    assert basic.json["error"] == "invalid_client"


def test_private_key_jwt_client_signs_an_assertion(client):
    key = ec_key()
    api_client, secret = new_client(
        OrganizationFactory(supplier=True), "private_key_jwt", jwks=public_jwks(key)
    )
    assert secret is None
    response = client.post(
        TOKEN,
        data=_grant(
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion=assertion(key, api_client.client_id, AUDIENCE),
        ),
    )
    assert response.status_code == 200, response.json
    assert claims_of(response.json["access_token"])["client_id"] == api_client.client_id


def test_wrong_and_unknown_secrets_are_refused(client):
    api_client, _ = new_client(OrganizationFactory(supplier=True))
    wrong = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, "cs_nope"))
    unknown = client.post(TOKEN, data=_grant(), headers=_basic("cl_unknown", "cs_nope"))
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json["error"] == "invalid_client"
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert "access_token" not in response.json


def test_an_expired_secret_is_refused(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    api_client.secrets[0].expires_at = ago(seconds=1)
    db.session.commit()
    response = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_scopes_are_limited_to_what_the_organization_was_approved_for(client):
    org = OrganizationFactory(supplier=True, approved_scopes=["invoices:write", "documents:read"])
    api_client, secret = new_client(org, scopes=["invoices:write", "documents:read"])
    auth = _basic(api_client.client_id, secret)

    narrower = client.post(TOKEN, data=_grant(scope="documents:read"), headers=auth)
    assert narrower.json["scope"] == "documents:read"

    beyond = client.post(TOKEN, data=_grant(scope="invoices:write webhooks:manage"), headers=auth)
    assert beyond.status_code == 400
    assert beyond.json["error"] == "invalid_scope"

    unknown = client.post(TOKEN, data=_grant(scope="root"), headers=auth)
    assert unknown.json["error"] == "invalid_scope"

    # An approval withdrawn after the client was made narrows what its tokens carry.
    org.approved_scopes = ["documents:read"]
    db.session.commit()
    default = client.post(TOKEN, data=_grant(), headers=auth)
    assert default.json["scope"] == "documents:read"


def test_a_suspended_organization_gets_no_token(client):
    org = OrganizationFactory(supplier=True)
    api_client, secret = new_client(org)
    org.status = OrgStatus.SUSPENDED
    db.session.commit()
    response = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))
    assert response.status_code == 400
    assert response.json["error"] == "unauthorized_client"


def test_only_client_credentials_is_offered(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    auth = _basic(api_client.client_id, secret)
    for grant in ("password", "refresh_token", "authorization_code"):
        response = client.post(TOKEN, data={"grant_type": grant}, headers=auth)
        assert response.json["error"] == "unsupported_grant_type"


def test_the_first_token_creates_the_signing_key_and_audits_it(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    assert db.session.scalar(select(func.count(SigningKey.id))) == 0
    response = client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))
    assert response.status_code == 200
    created = db.session.scalars(select(SigningKey)).all()
    assert [k.kid for k in created] == [header_of(response.json["access_token"])["kid"]]
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "oauth.signing_key.created")
    )
    assert entry.details == {"kid": created[0].kid}
    # A second token reuses the key.
    client.post(TOKEN, data=_grant(), headers=_basic(api_client.client_id, secret))
    assert db.session.scalar(select(func.count(SigningKey.id))) == 1


def test_last_token_time_is_written_at_most_once_a_minute(client):
    api_client, secret = new_client(OrganizationFactory(supplier=True))
    auth = _basic(api_client.client_id, secret)
    assert api_client.last_token_at is None
    client.post(TOKEN, data=_grant(), headers=auth)
    db.session.expire_all()
    first = db.session.get(ApiClient, api_client.id).last_token_at
    assert first is not None
    client.post(TOKEN, data=_grant(), headers=auth)
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_token_at == first


def _assertion_grant(key, client_id: str) -> dict:
    return _grant(
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion(key, client_id, AUDIENCE),
    )


def test_a_key_added_at_the_jwks_uri_is_fetched_when_first_used(app, client):
    first, second = ec_key("k1"), ec_key("k2")
    published = public_jwks(first)
    with jwks_server(published) as jwks_uri:
        api_client, _ = new_client(
            OrganizationFactory(supplier=True), "private_key_jwt", jwks_uri=jwks_uri
        )
        ok = client.post(TOKEN, data=_assertion_grant(first, api_client.client_id))
        assert ok.status_code == 200, ok.json

        published["keys"] = public_jwks(first, second)["keys"]  # the client rolls its key
        cache = app.extensions["oauth_jwks_uri_cache"]
        soon = client.post(TOKEN, data=_assertion_grant(second, api_client.client_id))
        # Fetched moments ago: not fetched again, whatever kid an assertion names.
        assert soon.json["error"] == "invalid_client"

        fetched_at, keyset = cache.entries[jwks_uri]
        cache.entries[jwks_uri] = (fetched_at - 11, keyset)
        later = client.post(TOKEN, data=_assertion_grant(second, api_client.client_id))
        assert later.status_code == 200, later.json


def test_an_unreachable_jwks_uri_fails_authentication_cleanly(client):
    key = ec_key()
    with jwks_server(public_jwks(key)) as jwks_uri:
        api_client, _ = new_client(
            OrganizationFactory(supplier=True), "private_key_jwt", jwks_uri=jwks_uri
        )
    response = client.post(TOKEN, data=_assertion_grant(key, api_client.client_id))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_client"
    assert "could not be fetched" in response.json["error_description"]
