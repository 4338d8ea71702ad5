"""Real OAuth clients over real HTTP against the live portal: authlib's OAuth2Session (with
PrivateKeyJWT) and requests-oauthlib's backend application flow, for each auth method."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError, UnauthorizedClientError
from requests_oauthlib import OAuth2Session as RequestsOAuthlibSession

from app.db import db
from app.oauth import keys, services
from app.orgs.models import OrgStatus
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.oauth.helpers import (
    ago,
    assertion,
    ec_key,
    forge_token,
    jwks_server,
    new_client,
    public_jwks,
    rsa_key,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Portal:
    """The live portal's URLs, and its token endpoint as published in its metadata, which is
    what client assertions name as their audience."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token = url + "/oauth/token"
        metadata = requests.get(url + "/.well-known/oauth-authorization-server", timeout=5)
        self.audience = metadata.json()["token_endpoint"]
        self.me = url + "/api/v1/me"
        self.introspect = url + "/oauth/introspect"
        self.revoke = url + "/oauth/revoke"


@pytest.fixture
def portal(live_server, monkeypatch) -> Portal:
    # oauthlib insists on https; the live server speaks http on 127.0.0.1.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return Portal(live_server.url)


def _me(portal: Portal, token: str, **headers) -> requests.Response:
    return requests.get(
        portal.me, headers={"Authorization": f"Bearer {token}", **headers}, timeout=5
    )


def _authlib_secret_session(client, secret, method):
    return OAuth2Session(
        client.client_id,
        secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    )


def _authlib_key_session(client, key, portal, alg="ES256"):
    session = OAuth2Session(
        client.client_id,
        key,
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
    )
    session.register_client_auth_method(PrivateKeyJWT(portal.audience, alg=alg))
    return session


# -- authlib ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_with_a_secret_gets_a_token_calls_introspects_and_revokes(portal, method):
    client, secret = new_client(OrganizationFactory(supplier=True), method)
    with _authlib_secret_session(client, secret, method) as session:
        token = session.fetch_token(portal.token, grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert "refresh_token" not in token

        me = session.get(portal.me, timeout=5)
        assert me.status_code == 200
        assert me.json()["client"]["client_id"] == client.client_id

        info = session.introspect_token(portal.introspect, token=token["access_token"])
        assert info.json()["active"] is True

        assert session.revoke_token(portal.revoke, token=token["access_token"]).status_code == 200
        refused = session.get(portal.me, timeout=5)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_authlib_private_key_jwt_with_a_registered_jwks(portal):
    key = ec_key()
    client, _ = new_client(
        OrganizationFactory(supplier=True), "private_key_jwt", jwks=public_jwks(key)
    )
    with _authlib_key_session(client, key, portal) as session:
        token = session.fetch_token(portal.token, grant_type="client_credentials")
        assert session.get(portal.me, timeout=5).json()["client"]["client_id"] == client.client_id
        info = session.introspect_token(portal.introspect, token=token["access_token"])
        assert info.json().get("client_id") == client.client_id, info.json()


def test_authlib_private_key_jwt_with_keys_at_a_jwks_uri(portal):
    key = rsa_key()
    with jwks_server(public_jwks(key)) as jwks_uri:
        client, _ = new_client(
            OrganizationFactory(supplier=True), "private_key_jwt", jwks_uri=jwks_uri
        )
        with _authlib_key_session(client, key, portal, alg="RS256") as session:
            session.fetch_token(portal.token, grant_type="client_credentials")
            assert session.get(portal.me, timeout=5).status_code == 200


def test_authlib_is_refused_a_scope_the_organization_was_not_approved_for(portal):
    client, secret = new_client(
        OrganizationFactory(supplier=True, approved_scopes=["documents:read"])
    )
    with (
        _authlib_secret_session(client, secret, "client_secret_basic") as session,
        pytest.raises(OAuthError) as refused,
    ):
        session.fetch_token(portal.token, grant_type="client_credentials", scope="invoices:write")
    assert refused.value.error == "invalid_scope"


# -- requests-oauthlib -------------------------------------------------------------------------


def _backend(client) -> RequestsOAuthlibSession:
    return RequestsOAuthlibSession(client=BackendApplicationClient(client_id=client.client_id))


def test_requests_oauthlib_client_secret_basic(portal):
    client, secret = new_client(OrganizationFactory(supplier=True))
    with _backend(client) as session:
        session.fetch_token(portal.token, client_secret=secret)
        assert session.get(portal.me, timeout=5).status_code == 200


def test_requests_oauthlib_client_secret_post(portal):
    client, secret = new_client(OrganizationFactory(supplier=True), "client_secret_post")
    with _backend(client) as session:
        session.fetch_token(portal.token, client_secret=secret, include_client_id=True)
        assert session.get(portal.me, timeout=5).status_code == 200


def test_requests_oauthlib_private_key_jwt_and_a_replayed_assertion(portal):
    key = ec_key()
    client, _ = new_client(
        OrganizationFactory(supplier=True), "private_key_jwt", jwks=public_jwks(key)
    )
    signed = assertion(key, client.client_id, portal.audience)
    with _backend(client) as session:
        session.fetch_token(
            portal.token,
            include_client_id=True,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=signed,
        )
        assert session.get(portal.me, timeout=5).status_code == 200
        with pytest.raises(InvalidClientError, match="used before"):
            session.fetch_token(
                portal.token,
                include_client_id=True,
                client_assertion_type=ASSERTION_TYPE,
                client_assertion=signed,
            )


def test_requests_oauthlib_assertions_signed_with_other_keys_or_for_others_fail(portal):
    key, stranger = ec_key(), ECKey.generate_key("P-256", private=True)
    client, _ = new_client(
        OrganizationFactory(supplier=True), "private_key_jwt", jwks=public_jwks(key)
    )
    attempts = [
        assertion(stranger, client.client_id, portal.audience),  # not the registered key
        assertion(key, client.client_id, "https://elsewhere.example/token"),  # wrong audience
        assertion(key, client.client_id, portal.audience, exp=int(time.time()) - 120),  # expired
        assertion(key, client.client_id, portal.audience, exp=int(time.time()) + 7200),  # too long
    ]
    with _backend(client) as session:
        for signed in attempts:
            with pytest.raises(InvalidClientError):
                session.fetch_token(
                    portal.token,
                    include_client_id=True,
                    client_assertion_type=ASSERTION_TYPE,
                    client_assertion=signed,
                )


# -- refusals over HTTP ------------------------------------------------------------------------


def test_wrong_secret(portal):
    client, _ = new_client(OrganizationFactory(supplier=True))
    with _backend(client) as session, pytest.raises(InvalidClientError):
        session.fetch_token(portal.token, client_secret="cs_guess")
    with (
        _authlib_secret_session(client, "cs_guess", "client_secret_basic") as session,
        pytest.raises(OAuthError) as refused,
    ):
        session.fetch_token(portal.token, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def test_expired_secret_and_the_rotation_grace_period(portal):
    client, old_secret = new_client(OrganizationFactory(supplier=True))
    new_secret = services.rotate_secret(client, old_secret_lifetime=dt.timedelta(days=1))
    db.session.commit()
    for secret in (old_secret, new_secret):  # both live during the grace period
        with _backend(client) as session:
            session.fetch_token(portal.token, client_secret=secret)

    client.secrets[0].expires_at = ago(seconds=1)
    db.session.commit()
    with _backend(client) as session, pytest.raises(InvalidClientError):
        session.fetch_token(portal.token, client_secret=old_secret)
    with _backend(client) as session:
        session.fetch_token(portal.token, client_secret=new_secret)


def _live_token(portal, client, secret) -> str:
    with _backend(client) as session:
        return session.fetch_token(portal.token, client_secret=secret)["access_token"]


def _assert_refused(response: requests.Response, detail: str) -> None:
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert detail in response.json()["detail"]


def test_expired_tampered_and_unknown_key_tokens(portal):
    client, secret = new_client(
        OrganizationFactory(supplier=True, approved_scopes=["documents:read", "invoices:read"])
    )
    token = _live_token(portal, client, secret)
    now = int(time.time())

    _assert_refused(_me(portal, forge_token(client, iat=now - 1000, exp=now - 10)), "expired")

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _assert_refused(_me(portal, f"{header}.{forged}.{signature}"), "signature")

    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"}, private=True)
    _assert_refused(_me(portal, forge_token(client, stranger)), "unknown key")
    assert _me(portal, token).status_code == 200


def test_revoked_client(portal):
    client, secret = new_client(OrganizationFactory(supplier=True))
    token = _live_token(portal, client, secret)
    services.revoke_client(client)
    db.session.commit()
    _assert_refused(_me(portal, token), "client was revoked")
    with _backend(client) as session, pytest.raises(InvalidClientError):
        session.fetch_token(portal.token, client_secret=secret)


def test_suspended_organization(portal):
    org = OrganizationFactory(supplier=True)
    client, secret = new_client(org)
    token = _live_token(portal, client, secret)
    org.status = OrgStatus.SUSPENDED
    db.session.commit()
    _assert_refused(_me(portal, token), "organization is not active")
    with _backend(client) as session, pytest.raises(UnauthorizedClientError):
        session.fetch_token(portal.token, client_secret=secret)


def test_partner_acting_for_a_supplier_not_connected_to_it(portal):
    net, connected, stranger = (
        OrganizationFactory(partner=True),
        OrganizationFactory(supplier=True),
        OrganizationFactory(supplier=True),
    )
    ConnectionFactory(partner=net, supplier=connected)
    client, secret = new_client(net)
    token = _live_token(portal, client, secret)
    assert _me(portal, token, **{"On-Behalf-Of": str(connected.id)}).status_code == 200
    refused = _me(portal, token, **{"On-Behalf-Of": str(stranger.id)})
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_key_rotation_keeps_old_tokens_valid_over_http(portal):
    client, secret = new_client(OrganizationFactory(supplier=True))
    old = _live_token(portal, client, secret)
    keys.rotate()
    db.session.commit()
    new = _live_token(portal, client, secret)
    assert old.split(".")[0] != new.split(".")[0]  # different kid
    assert _me(portal, old).status_code == 200
    assert _me(portal, new).status_code == 200
    published = requests.get(portal.url + "/.well-known/jwks.json", timeout=5).json()["keys"]
    assert len(published) == 2


def test_a_token_without_the_scope_is_refused_by_the_api_over_http(portal):
    """A real client asks only for documents:read, then tries to send an invoice."""
    client, secret = new_client(
        OrganizationFactory(supplier=True), scopes=["documents:read", "invoices:write"]
    )
    with _backend(client) as session:
        session.fetch_token(portal.token, client_secret=secret, scope=["documents:read"])
        answer = session.post(
            portal.url + "/api/v1/invoices",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "invoices:write" in answer.json()["detail"]
