"""What company sign-in refuses, each against the real provider: forged, replayed or expired id
tokens, the wrong issuer, and identities the organization does not allow."""

from __future__ import annotations

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from app.accounts.models import User, UserSession
from app.audit.models import AuditEntry
from app.db import db
from app.orgs.roles import Role
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import (
    approved_provider,
    at_provider,
    person,
    provider_url,
    replace_id_token,
    signed_in_as,
    sso_sign_in,
    start_sign_in,
    tamper_id_token,
    with_query,
)
from tests.oidc.harness import abort_flow, query_params


def _jit(acme, idp, **settings):
    settings = {"jit_enabled": True, "jit_role": Role.SUPPLIER_USER, **settings}
    provider = approved_provider(acme, idp, **settings)
    idp.set_user("alice", **person("alice@acme.example"))
    return provider


def _refusal(response, status: int, *phrases: str) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    for phrase in phrases:
        assert phrase in html, html


def _nobody_signed_in() -> bool:
    return db.session.scalar(select(UserSession)) is None


def _audited(action: str) -> dict:
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None, f"no {action} in the audit log"
    return entry.details


def test_tampered_id_token_is_refused(client, idp, acme, monkeypatch):
    _jit(acme, idp)
    tamper_id_token(monkeypatch, lambda claims: claims.update(email="mallory@acme.example"))

    response = sso_sign_in(client, "alice@acme.example", "alice")

    _refusal(response, 401, "Company sign-in failed", "signature could not be verified")
    assert _nobody_signed_in()
    assert _audited("auth.sso_failed") == {"reason": "token_invalid"}


def _genuine_token_for_another_app(idp, nonce: str) -> str:
    """A correctly signed id token for the same person and nonce, issued to another client."""
    idp.add_client("other-app", "other-secret", redirect_uris=["http://other.test/cb"])
    other = OAuth2Session(
        "other-app",
        "other-secret",
        scope="openid email",
        redirect_uri="http://other.test/cb",
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    url, state = other.create_authorization_url(
        idp.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = at_provider(url, "alice")
    token = other.fetch_token(
        idp.metadata["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    return str(token["id_token"])


def test_id_token_issued_to_another_client_is_refused(client, idp, acme, monkeypatch):
    _jit(acme, idp)
    started = start_sign_in(client, "alice@acme.example")
    nonce = query_params(provider_url(started))["nonce"]
    foreign = _genuine_token_for_another_app(idp, nonce)
    replace_id_token(monkeypatch, lambda _own: foreign)

    response = client.get(at_provider(provider_url(started), "alice"))

    _refusal(response, 401, "aud claim is not valid")
    assert _nobody_signed_in()


def test_expired_id_token_is_refused(client, idp, acme):
    _jit(acme, idp)
    idp.configure(id_token_clock_skew=-3600)
    response = sso_sign_in(client, "alice@acme.example", "alice")
    _refusal(response, 401, "id token has expired")
    assert _nobody_signed_in()
    assert _audited("auth.sso_failed") == {"reason": "token_expired"}


def test_nonce_mismatch_is_refused(client, idp, acme):
    """An id token minted for another sign-in (replayed or injected) carries another nonce."""
    _jit(acme, idp)
    started = start_sign_in(client, "alice@acme.example")
    with client.session_transaction() as session:
        key = next(k for k in session if k.startswith("_state_idp"))
        stored = session[key]
        stored["data"]["nonce"] = "nonce-of-another-sign-in"
        session[key] = stored
    callback = at_provider(provider_url(started), "alice")

    response = client.get(callback)

    _refusal(response, 401, "nonce claim is not valid")
    assert _nobody_signed_in()


def test_callback_from_another_issuer_is_refused(client, idp, acme):
    """RFC 9207 mix-up defence: the response names its issuer, and it must be ours."""
    _jit(acme, idp)
    started = start_sign_in(client, "alice@acme.example")
    callback = at_provider(provider_url(started), "alice")

    response = client.get(with_query(callback, iss="https://evil.example"))

    _refusal(response, 401, "came from a different issuer")
    assert _nobody_signed_in()


def test_provider_claiming_another_issuer_is_refused_at_discovery(client, idp, acme):
    """Discovery at http://localhost:<port> answers issuer http://127.0.0.1:<port>."""
    port = idp.issuer.rsplit(":", 1)[1]
    _jit(acme, idp, issuer=f"http://localhost:{port}")

    response = start_sign_in(client, "alice@acme.example")

    _refusal(response, 502, "names the issuer", f"http://127.0.0.1:{port}")
    assert _audited("auth.sso_failed") == {"reason": "issuer_mismatch"}


def test_callback_without_a_matching_state_is_refused(client, idp, acme):
    """A callback this browser did not start (login CSRF) is not accepted."""
    _jit(acme, idp)
    started = start_sign_in(client, "alice@acme.example")
    callback = at_provider(provider_url(started), "alice")

    stranger = client.application.test_client()
    _refusal(stranger.get(callback), 400, "Sign-in expired")
    # The state is used up by the first callback: replaying it fails too.
    assert client.get(callback).status_code == 302
    _refusal(client.get(callback), 400, "Sign-in expired")


def test_unverified_email_is_refused_with_a_clear_page(client, idp, acme):
    _jit(acme, idp)
    idp.set_user("alice", **person("alice@acme.example", verified=False))
    response = sso_sign_in(client, "alice@acme.example", "alice")
    _refusal(response, 403, "Email address not verified", "has not verified the email address")
    assert db.session.scalar(select(User).where(User.email == "alice@acme.example")) is None
    assert _audited("auth.sso_refused")["reason"] == "email_unverified"


def test_email_outside_the_allowed_domains_is_refused(client, idp, acme):
    _jit(acme, idp)
    idp.set_user("alice", **person("alice@gmail.example"))
    response = sso_sign_in(client, "alice@acme.example", "alice")
    _refusal(response, 403, "Email domain not allowed", "alice@gmail.example")
    assert db.session.scalar(select(User).where(User.email == "alice@gmail.example")) is None


def test_no_account_is_created_when_just_in_time_is_off(client, idp, acme):
    _jit(acme, idp, jit_enabled=False)
    response = sso_sign_in(client, "alice@acme.example", "alice")
    _refusal(response, 403, "No portal account yet", "Ask your administrator to invite you")
    assert _nobody_signed_in()


def test_account_of_another_organization_is_not_linked(client, idp, acme):
    _jit(acme, idp)
    UserFactory(email="alice@acme.example", role__organization=OrganizationFactory())
    response = sso_sign_in(client, "alice@acme.example", "alice")
    _refusal(response, 403, "belongs to another organization")


def test_disabled_user_cannot_sign_in_through_the_provider(client, idp, acme):
    _jit(acme, idp)
    sso_sign_in(client, "alice@acme.example", "alice", requests.Session())
    user = db.session.scalar(select(User).where(User.email == "alice@acme.example"))
    user.active = False
    db.session.commit()
    other = client.application.test_client()
    _refusal(sso_sign_in(other, "alice@acme.example", "alice"), 403, "Account disabled")


def test_cancel_at_the_provider_says_so(client, idp, acme):
    _jit(acme, idp)
    started = start_sign_in(client, "alice@acme.example")
    callback = abort_flow(requests.Session(), provider_url(started))
    _refusal(client.get(callback), 401, "cancelled at the identity provider")


def test_rotated_signing_key_is_fetched_and_trusted(client, idp, acme):
    _jit(acme, idp)
    sso_sign_in(client, "alice@acme.example", "alice", requests.Session())
    idp.rotate_keys(keep_old=False)
    other = client.application.test_client()
    assert sso_sign_in(other, "alice@acme.example", "alice").status_code == 302
    assert signed_in_as(other, "alice@acme.example")


def test_a_saved_provider_on_an_internal_address_is_not_called(client, idp, acme, app, monkeypatch):
    """The guard runs on every call, not only when the issuer is saved: with private
    addresses off, the provider on 127.0.0.1 is never asked for its discovery document."""
    _jit(acme, idp)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    calls: list[str] = []
    original = HTTPAdapter.send
    monkeypatch.setattr(
        HTTPAdapter,
        "send",
        lambda self, request, *a, **kw: (
            calls.append(request.url) or original(self, request, *a, **kw)
        ),
    )

    response = start_sign_in(client, "alice@acme.example")

    _refusal(response, 502, "will not call", "internal address (127.0.0.1)")
    assert calls == []
    assert _audited("auth.sso_failed")["reason"] == "discovery_refused"
