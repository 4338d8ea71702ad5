"""require_token: every check a protected API call goes through, with RFC 6750 answers."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator

import pytest
from flask import g
from joserfc.jwk import ECKey
from sqlalchemy import event

from app.db import db
from app.oauth import denylist, keys, services
from app.oauth.models import ApiClient
from app.oauth.resource import current_client, require_token
from app.oauth.tokens import issue_access_token
from app.orgs.models import OrgStatus
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import claims_of, forge_token, new_client
from tests.posting.test_breaker import own_redis  # noqa: F401

ME = "/api/v1/me"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _assert_invalid_token(response, detail_part: str) -> None:
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert detail_part in response.json["detail"]
    assert response.json["type"].endswith("/invalid-token")


@pytest.fixture
def api_client():
    client, _ = new_client(
        OrganizationFactory(supplier=True, approved_scopes=["invoices:write", "documents:read"])
    )
    return client


def test_a_valid_token_reaches_the_view(client, api_client):
    token = issue_access_token(api_client, ["documents:read"])
    response = client.get(ME, headers=_bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["client"]["client_id"] == api_client.client_id
    assert response.json["organization"]["id"] == api_client.organization_id
    assert response.json["scopes"] == ["documents:read"]
    assert response.json["token_expires_at"] == claims_of(token)["exp"]


def test_without_a_token_the_challenge_has_no_error_code(client):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = client.get(ME, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="supplier-portal"'
        assert response.json["type"].endswith("/token-required")


def test_an_expired_token_is_refused(client, api_client):
    now = int(time.time())
    token = forge_token(api_client, iat=now - 1000, exp=now - 100)
    _assert_invalid_token(client.get(ME, headers=_bearer(token)), "expired")


def test_a_tampered_token_is_refused(client, api_client):
    token = issue_access_token(api_client, ["documents:read"])
    header, _, signature = token.split(".")
    # Same header and signature, payload taken from a token with more scopes.
    other = issue_access_token(api_client).split(".")[1]
    _assert_invalid_token(
        client.get(ME, headers=_bearer(f"{header}.{other}.{signature}")), "signature"
    )
    _assert_invalid_token(client.get(ME, headers=_bearer("not-a-jwt")), "well-formed")


def test_a_token_signed_by_an_unknown_key_is_refused(client, api_client):
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"}, private=True)
    _assert_invalid_token(
        client.get(ME, headers=_bearer(forge_token(api_client, stranger))), "unknown key"
    )
    # Claiming our kid while signing with another key fails the signature instead.
    ours = keys.current_kid()
    _assert_invalid_token(
        client.get(ME, headers=_bearer(forge_token(api_client, stranger, kid=ours))), "signature"
    )


def test_tokens_for_another_issuer_or_audience_are_refused(client, api_client):
    issue_access_token(api_client)
    for claims in ({"iss": "https://evil.example"}, {"aud": "https://other-api.example"}):
        _assert_invalid_token(
            client.get(ME, headers=_bearer(forge_token(api_client, **claims))), "not valid"
        )


def test_a_revoked_token_is_refused_even_after_redis_lost_the_deny_list(client, api_client, redis):
    token = issue_access_token(api_client)
    claims = claims_of(token)
    denylist.deny(claims["jti"], api_client, dt.datetime.fromtimestamp(claims["exp"], dt.UTC))
    db.session.commit()
    _assert_invalid_token(client.get(ME, headers=_bearer(token)), "revoked")

    redis.flushdb()  # Redis restarted empty: the database copy is loaded again
    _assert_invalid_token(client.get(ME, headers=_bearer(token)), "revoked")
    assert redis.exists(denylist.LOADED_MARKER)
    assert client.get(ME, headers=_bearer(issue_access_token(api_client))).status_code == 200


def test_a_revoked_client_loses_every_token_at_once(client, api_client):
    token = issue_access_token(api_client)
    assert client.get(ME, headers=_bearer(token)).status_code == 200
    services.revoke_client(api_client)
    db.session.commit()
    _assert_invalid_token(client.get(ME, headers=_bearer(token)), "client was revoked")


def test_a_suspended_organization_gets_401(client, api_client):
    token = issue_access_token(api_client)
    api_client.organization.status = OrgStatus.SUSPENDED
    db.session.commit()
    _assert_invalid_token(client.get(ME, headers=_bearer(token)), "organization is not active")


@pytest.mark.slow
@pytest.mark.parametrize("cached", [False, True], ids=["cold", "cached"])
def test_with_redis_stopped_the_database_copy_of_the_deny_list_answers(
    client,
    api_client,
    own_redis,  # noqa: F811 - the fixture imported above
    cached,
    monkeypatch,
):
    """Redis stopped: valid tokens still reach the view and revoked ones are still refused,
    from one look-up of the token's jti in the database (never a pass, never a 503)."""
    valid = issue_access_token(api_client)
    revoked = issue_access_token(api_client)
    claims = claims_of(revoked)
    denylist.deny(claims["jti"], api_client, dt.datetime.fromtimestamp(claims["exp"], dt.UTC))
    db.session.commit()
    if cached:  # the tokens and the client are in this process's caches
        assert client.get(ME, headers=_bearer(valid)).status_code == 200
        _assert_invalid_token(client.get(ME, headers=_bearer(revoked)), "revoked")
    own_redis.terminate()
    own_redis.wait(timeout=5)
    resting = (client.application.extensions, denylist.RESTING_UNTIL)
    monkeypatch.setitem(*resting, 0.0)  # forgotten after the test

    with _statements_on("oauth_revoked_tokens") as looked_up:
        response = client.get(ME, headers=_bearer(valid))
    assert response.status_code == 200, response.json
    assert response.json["client"]["client_id"] == api_client.client_id
    assert len(looked_up) == 1, looked_up
    _assert_invalid_token(client.get(ME, headers=_bearer(revoked)), "revoked")

    # Redis is left alone for a few seconds after it failed: a hung one would cost every call
    # its timeout otherwise.
    assert denylist.redis_resting()
    asked = []
    monkeypatch.setattr(denylist, "check", lambda *a, **k: asked.append(a))
    assert client.get(ME, headers=_bearer(valid)).status_code == 200
    _assert_invalid_token(client.get(ME, headers=_bearer(revoked)), "revoked")
    assert asked == []


@contextlib.contextmanager
def _statements_on(table: str) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn, cursor, statement, *_):
        if table in statement:
            seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _call(app, view, token: str):
    with app.test_request_context(ME, headers=_bearer(token)):
        return app.make_response(view())


def test_a_missing_scope_is_403_insufficient_scope(app, api_client):
    @require_token("invoices:write")
    def send_invoice():
        return {"client": current_client().client_id}

    allowed = _call(app, send_invoice, issue_access_token(api_client, ["invoices:write"]))
    assert allowed.status_code == 200
    assert allowed.json == {"client": api_client.client_id}

    refused = _call(app, send_invoice, issue_access_token(api_client, ["documents:read"]))
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="supplier-portal", error="insufficient_scope", scope="invoices:write"'
    )
    assert refused.json["required_scopes"] == ["invoices:write"]


def test_a_scope_withdrawn_from_the_organization_stops_working_at_once(app, api_client):
    @require_token("invoices:write")
    def send_invoice():
        return {"ok": True}

    token = issue_access_token(api_client, ["invoices:write"])
    api_client.organization.approved_scopes = ["documents:read"]
    db.session.commit()
    assert _call(app, send_invoice, token).status_code == 403


def test_unknown_scopes_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown scopes"):
        require_token("invoices:writ")


def test_the_throttle_hook_runs_after_authentication(app, api_client, monkeypatch):
    seen = []

    def hook(client):
        seen.append(client.client_id)
        return app.response_class("slow down", status=429, headers={"Retry-After": "7"})

    @require_token()
    def view():
        return {"ok": True}

    # monkeypatch puts the app's real hook back afterwards (later tests rely on throttling).
    monkeypatch.setitem(app.extensions, "throttle_hook", hook)
    assert _call(app, view, "garbage").status_code == 401
    assert seen == []  # unauthenticated calls never reach the hook
    throttled = _call(app, view, issue_access_token(api_client))
    assert throttled.status_code == 429
    assert seen == [api_client.client_id]
    app.extensions["throttle_hook"] = lambda client: None
    assert _call(app, view, issue_access_token(api_client)).status_code == 200


def test_g_carries_the_client_and_claims(app, api_client):
    @require_token()
    def view():
        return {"client": g.api_client.id, "jti": g.api_claims["jti"], "scopes": g.api_scopes}

    token = issue_access_token(api_client, ["documents:read"])
    body = _call(app, view, token).json
    assert body == {
        "client": api_client.id,
        "jti": claims_of(token)["jti"],
        "scopes": ["documents:read"],
    }


def test_last_api_call_is_written_at_most_once_a_minute(client, api_client, monkeypatch):
    token = issue_access_token(api_client)
    client.get(ME, headers=_bearer(token))
    db.session.expire_all()
    first = db.session.get(ApiClient, api_client.id).last_used_at
    assert first is not None
    client.get(ME, headers=_bearer(token))
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at == first

    # A minute later (the process's cached copy of the client says when it last wrote).
    monkeypatch.setattr(services, "utcnow", lambda: first + dt.timedelta(seconds=61))
    client.get(ME, headers=_bearer(token))
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at > first


def test_made_up_kids_do_not_cost_a_query_each(app, client, api_client):
    issue_access_token(api_client)  # our key exists and is loaded
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for n in range(20):
            stranger = ECKey.generate_key("P-256", parameters={"kid": f"made-up-{n}"}, private=True)
            response = client.get(ME, headers=_bearer(forge_token(api_client, stranger)))
            _assert_invalid_token(response, "unknown key")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    key_reads = [s for s in statements if "oauth_signing_keys" in s]
    assert len(key_reads) <= 1  # at most one reload a second, however many kids are invented
