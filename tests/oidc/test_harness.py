"""The OIDC test harness against the real provider, driven by Authlib's OAuth2 client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import ExpiredTokenError
from joserfc.jwk import KeySet

from tests.oidc.harness import (
    INSTALL_HINT,
    LoginFailedError,
    OidcProvider,
    OidcProviderError,
    abort_flow,
    ensure_installed,
    login_flow,
    logout_flow,
    query_params,
)

pytestmark = pytest.mark.no_db

pytest_plugins = ["tests.oidc.fixtures"]

CLIENT_ID = "portal"
CLIENT_SECRET = "portal-secret"
REDIRECT_URI = "http://rp.example.test/auth/oidc/callback"
LOGGED_OUT_URI = "http://rp.example.test/signed-out"
SCOPE = "openid email profile groups"
ALICE = {
    "email": "alice@supplier.example",
    "email_verified": True,
    "name": "Alice Example",
    "groups": ["suppliers", "acme-admins"],
    "password": "correct horse",
}


@pytest.fixture
def _db_transaction() -> None:
    """Overrides the suite's autouse database fixture: the harness needs no app or database."""


@pytest.fixture
def _clean_redis() -> None:
    """Overrides the suite's autouse Redis fixture: the harness needs no Redis."""


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProvider]:
    """This module's own provider (the `oidc` fixture from tests.oidc.fixtures resets it), so
    these tests neither see nor disturb the session provider the rest of the suite shares."""
    with OidcProvider(
        clients=[
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [LOGGED_OUT_URI],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
        users={"alice": ALICE, "bob": {"email": "bob@supplier.example", "groups": []}},
    ) as provider:
        yield provider


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class RelyingParty:
    """What the portal will do, spelled out with Authlib: PKCE S256, state and nonce."""

    def __init__(self, provider: OidcProvider, client_id: str = CLIENT_ID) -> None:
        self.provider = provider
        self.client = OAuth2Session(
            client_id,
            CLIENT_SECRET,
            scope=SCOPE,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)
        self.state = ""

    def authorize_url(self, **params: str) -> str:
        url, self.state = self.client.create_authorization_url(
            self.provider.metadata["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **params,
        )
        return str(url)

    def finish(self, callback_url: str) -> dict[str, Any]:
        return dict(
            self.client.fetch_token(
                self.provider.metadata["token_endpoint"],
                authorization_response=callback_url,
                state=self.state,
                code_verifier=self.verifier,
            )
        )

    def verify(self, id_token: str, *, now: int | None = None) -> dict[str, Any]:
        token = jwt.decode(id_token, KeySet.import_key_set(self.provider.jwks()), ["RS256"])
        registry = jwt.JWTClaimsRegistry(
            now=now,
            iss={"essential": True, "value": self.provider.issuer},
            aud={"essential": True, "value": self.client.client_id},
            nonce={"essential": True, "value": self.nonce},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(token.claims)
        assert token.header["alg"] == "RS256"
        return dict(token.claims)

    def sign_in(self, browser: requests.Session, account: str, password: str = "") -> dict:
        callback = login_flow(browser, self.authorize_url(), account, password)
        return self.verify(self.finish(callback)["id_token"])


def test_discovery_advertises_what_the_portal_needs(oidc: OidcProvider) -> None:
    meta = oidc.metadata
    assert meta["issuer"] == oidc.issuer
    assert oidc.issuer.startswith("http://127.0.0.1:")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert meta["end_session_endpoint"] == f"{oidc.issuer}/session/end"
    assert {"openid", "email", "profile", "groups"} <= set(meta["scopes_supported"])
    assert {"email", "email_verified", "groups", "name"} <= set(meta["claims_supported"])
    assert [k["kty"] for k in oidc.jwks()["keys"]] == ["RSA"]


def test_full_sign_in_yields_a_verified_id_token(oidc: OidcProvider, browser) -> None:
    rp = RelyingParty(oidc)
    callback = login_flow(browser, rp.authorize_url(), "alice", "correct horse")

    params = query_params(callback)
    assert callback.startswith(REDIRECT_URI + "?")
    assert params["state"] == rp.state
    assert params["iss"] == oidc.issuer
    tokens = rp.finish(callback)
    claims = rp.verify(tokens["id_token"])

    assert claims["sub"] == "alice"
    assert claims["email"] == ALICE["email"]
    assert claims["email_verified"] is True
    assert claims["name"] == ALICE["name"]
    assert claims["groups"] == ["suppliers", "acme-admins"]
    assert "password" not in claims
    userinfo = rp.client.get(oidc.metadata["userinfo_endpoint"]).json()
    assert userinfo["groups"] == ALICE["groups"]


def test_changed_groups_show_on_next_sign_in(oidc: OidcProvider, browser) -> None:
    assert RelyingParty(oidc).sign_in(browser, "alice", "correct horse")["groups"] == [
        "suppliers",
        "acme-admins",
    ]
    oidc.set_user("alice", **{**ALICE, "groups": ["finance"]})

    # same browser: the provider session is reused, no login page, fresh claims
    assert RelyingParty(oidc).sign_in(browser, "alice")["groups"] == ["finance"]
    with requests.Session() as other_browser:
        assert RelyingParty(oidc).sign_in(other_browser, "alice", "correct horse")["groups"] == [
            "finance"
        ]


def test_reset_restores_baseline_users(oidc: OidcProvider, browser) -> None:
    oidc.set_users({"carol": {"email": "carol@example.test"}})
    assert oidc.health()["users"] == ["carol"]
    oidc.reset()
    assert oidc.health()["users"] == ["alice", "bob"]


def test_wrong_password_and_unknown_account_are_refused(oidc: OidcProvider, browser) -> None:
    rp = RelyingParty(oidc)
    with pytest.raises(LoginFailedError):
        login_flow(browser, rp.authorize_url(), "alice", "wrong")
    with pytest.raises(LoginFailedError):
        login_flow(browser, rp.authorize_url(), "mallory")


def test_pkce_is_required(oidc: OidcProvider, browser) -> None:
    plain = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI)
    url, _ = plain.create_authorization_url(oidc.metadata["authorization_endpoint"], nonce="n")
    callback = login_flow(browser, url, "alice", "correct horse")
    assert query_params(callback)["error"] == "invalid_request"
    assert "PKCE" in query_params(callback)["error_description"]


def test_cancel_at_login_returns_access_denied(oidc: OidcProvider, browser) -> None:
    callback = abort_flow(browser, RelyingParty(oidc).authorize_url())
    assert query_params(callback)["error"] == "access_denied"


def test_consent_form_when_auto_consent_is_off(oidc: OidcProvider, browser) -> None:
    oidc.configure(auto_consent=False)
    rp = RelyingParty(oidc)
    assert rp.sign_in(browser, "bob")["email"] == "bob@supplier.example"
    with requests.Session() as other_browser:
        denied = login_flow(other_browser, rp.authorize_url(), "bob", consent=False)
    assert query_params(denied)["error"] == "access_denied"


def test_clock_skew_gives_an_expired_id_token(oidc: OidcProvider, browser) -> None:
    settings = oidc.configure(id_token_clock_skew=-3600, id_token_ttl=60)
    assert settings == {"id_token_ttl": 60, "id_token_clock_skew": -3600, "auto_consent": True}
    rp = RelyingParty(oidc)
    id_token = rp.finish(login_flow(browser, rp.authorize_url(), "bob"))["id_token"]

    with pytest.raises(ExpiredTokenError):
        rp.verify(id_token)
    claims = rp.verify(id_token, now=int(time.time()) - 3590)
    assert claims["exp"] - claims["iat"] == 60


def test_added_client_and_rotated_key(oidc: OidcProvider, browser) -> None:
    oidc.add_client("second", CLIENT_SECRET, redirect_uris=[REDIRECT_URI])
    old_kid = oidc.jwks()["keys"][0]["kid"]
    new_kid = oidc.rotate_keys()

    rp = RelyingParty(oidc, client_id="second")
    id_token = rp.finish(login_flow(browser, rp.authorize_url(), "bob"))["id_token"]
    assert jwt.decode(id_token, KeySet.import_key_set(oidc.jwks())).header["kid"] == new_kid
    assert {k["kid"] for k in oidc.jwks()["keys"]} == {old_kid, new_kid}
    assert rp.verify(id_token)["aud"] == "second"


def test_rp_initiated_logout_returns_to_the_client(oidc: OidcProvider, browser) -> None:
    rp = RelyingParty(oidc)
    tokens = rp.finish(login_flow(browser, rp.authorize_url(), "alice", "correct horse"))
    end_session = requests.Request(
        "GET",
        oidc.metadata["end_session_endpoint"],
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGGED_OUT_URI,
            "state": "bye",
        },
    ).prepare()

    back = logout_flow(browser, str(end_session.url))
    assert back == f"{LOGGED_OUT_URI}?state=bye"
    # the provider session is gone: the next sign-in shows the login page again
    with pytest.raises(LoginFailedError):
        login_flow(browser, rp.authorize_url(), "alice", "wrong")


def test_missing_node_modules_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(OidcProviderError, match="npm ci --prefix tests/oidc"):
        ensure_installed(tmp_path)
    assert "npm ci --prefix tests/oidc" in INSTALL_HINT
