"""The per-process caches of the token check: verified tokens and client snapshots.

Every test calls the check the way a request does, in an app context of its own (a fresh
database session), and counts the SQL it sends. Changes are made either by this app or by a
second app with caches of its own, standing for another process: only the epoch in Redis tells
this app that its snapshot is stale.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from redis import Redis
from sqlalchemy import event, inspect, select, update
from structlog.testing import capture_logs

from app import create_app
from app.db import db
from app.jobs import job
from app.oauth import client_cache, denylist, keys, services, tokens
from app.oauth.lru import LruCache
from app.oauth.models import ApiClient, SigningKey
from app.oauth.resource import require_token
from app.oauth.tokens import TokenRejectedError, issue_access_token
from app.orgs.models import Organization, OrgStatus
from tests.conftest import UNREACHABLE_ERP, IsolatedClient
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import ago, claims_of, forge_token, new_client

ME = "/api/v1/me"
SCOPES = ["invoices:write", "documents:read"]


@pytest.fixture
def api_client():
    client, _ = new_client(OrganizationFactory(supplier=True, approved_scopes=SCOPES))
    return client


@pytest.fixture(params=["this app", "another app"])
def changing_app(request, app, other_app):
    """Where a change is made: this app, or another process whose commit only moves the epoch."""
    return app if request.param == "this app" else other_app


@pytest.fixture(scope="module")
def other_app(app):
    """Another portal process: same database and Redis, caches of its own."""
    other = create_app("testing", {"ERP_URL": UNREACHABLE_ERP})
    other.test_client_class = IsolatedClient
    yield other
    with other.app_context():
        db.engine.dispose()


@contextmanager
def sql_statements() -> Iterator[list[str]]:
    """Every statement sent to the database inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, *_):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _client_queries(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().startswith("SELECT") and "api_clients" in s]


def check(app, token: str) -> tuple[tokens.VerifiedToken | TokenRejectedError, list[str]]:
    """tokens.verify as one API request runs it (own app context and session), with the SQL it
    sent; the client is inspected inside the request, while its session is open."""
    with sql_statements() as statements, app.app_context(), app.test_request_context(ME):
        try:
            verified = tokens.verify(token)
        except TokenRejectedError as exc:
            return exc, statements
        state = inspect(verified.client)
        assert state.session is db.session(), "the client must belong to the request's session"
        assert verified.client.organization.id == verified.client.organization_id
        _ = verified.scopes
    return verified, statements


def accepted(app, token: str) -> tuple[tokens.VerifiedToken, list[str]]:
    verified, statements = check(app, token)
    assert isinstance(verified, tokens.VerifiedToken), verified
    return verified, statements


def refused(app, token: str, reason_part: str) -> list[str]:
    exc, statements = check(app, token)
    assert isinstance(exc, TokenRejectedError), f"accepted: {exc}"
    assert reason_part in exc.reason
    return statements


def warm(app, token: str) -> None:
    """Call twice; the second call must be answered from the caches alone."""
    accepted(app, token)
    _, statements = accepted(app, token)
    assert statements == [], statements


# -- hits and misses ---------------------------------------------------------------------------


def test_a_cold_check_loads_the_client_and_a_cached_one_sends_no_sql(app, api_client):
    token = issue_access_token(api_client)
    cold, statements = accepted(app, token)
    assert len(_client_queries(statements)) == 1
    assert cold.client.client_id == api_client.client_id

    cached, statements = accepted(app, token)
    assert statements == []
    assert cached.client.client_id == api_client.client_id
    assert cached.scopes == cold.scopes == SCOPES
    assert cached.claims == claims_of(token)


def test_another_token_of_a_cached_client_needs_no_client_query(app, api_client):
    warm(app, issue_access_token(api_client))
    _, statements = accepted(app, issue_access_token(api_client, ["documents:read"]))
    assert _client_queries(statements) == []


def test_a_cached_client_still_lazy_loads_and_flushes_in_the_request_session(app, api_client):
    token = issue_access_token(api_client)
    warm(app, token)
    with app.app_context(), app.test_request_context(ME):
        client = tokens.verify(token).client
        assert [s.hint for s in client.secrets] == [s.hint for s in api_client.secrets]
        client.name = "Renamed through the request"
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).name == "Renamed through the request"


def test_a_request_changing_json_in_place_does_not_change_the_snapshot(app, api_client):
    token = issue_access_token(api_client)
    warm(app, token)
    with app.app_context(), app.test_request_context(ME):
        client = tokens.verify(token).client
        client.scopes.append("webhooks:manage")
        client.organization.approved_scopes.clear()
        db.session.rollback()
    verified, _ = accepted(app, token)
    assert verified.client.scopes == SCOPES
    assert verified.scopes == SCOPES


def test_a_session_already_holding_the_client_is_not_overwritten(app, api_client):
    """A snapshot is never merged over objects the session holds (they may have changes)."""
    token = issue_access_token(api_client)
    warm(app, token)
    with app.app_context(), app.test_request_context(ME):
        held = db.session.get(ApiClient, api_client.id)
        held.name = "Pending, not flushed"
        verified = tokens.verify(token)
        assert verified.client is held
        assert held.name == "Pending, not flushed"
        db.session.rollback()


def test_a_session_holding_an_older_copy_does_not_make_the_snapshot(app, other_app, api_client):
    """The query hands back the objects the session holds, unrefreshed: they may be older than
    the epoch just read, so they are not copied into the cache."""
    token = issue_access_token(api_client)
    warm(app, token)
    with app.app_context(), app.test_request_context(ME):
        held = db.session.get(ApiClient, api_client.id)  # before the other process's change
        _change(other_app, api_client, _suspend)
        assert tokens.verify(token).client is held  # this session's own view, as without a cache
        # Tests share one connection: a rollback here would also undo the other app's change.
        db.session.commit()
    refused(app, token, "organization is not active")


def test_a_session_with_an_uncommitted_change_does_not_make_the_snapshot(app, api_client):
    token = issue_access_token(api_client)
    services.revoke_client(api_client)
    db.session.commit()
    with app.app_context(), app.test_request_context(ME):
        db.session.execute(
            update(ApiClient).where(ApiClient.id == api_client.id).values(revoked_at=None)
        )
        tokens.verify(token)  # the session sees its own uncommitted change, as without a cache
        db.session.rollback()
    refused(app, token, "client was revoked")


def test_the_subject_is_checked_on_cached_calls(app, api_client):
    warm(app, issue_access_token(api_client))
    refused(app, forge_token(api_client, sub="someone-else"), "subject is not its client")


# -- what invalidates a snapshot -----------------------------------------------------------------


def _revoke(client: ApiClient) -> None:
    services.revoke_client(client)


def _suspend(client: ApiClient) -> None:
    client.organization.status = OrgStatus.SUSPENDED


def _change(app, api_client: ApiClient, change) -> None:
    """Apply `change` to the client in a unit of work of `app` and commit it."""
    with app.app_context():
        change(db.session.get(ApiClient, api_client.id))
        db.session.commit()


@pytest.mark.parametrize(
    ("change", "reason"),
    [(_revoke, "client was revoked"), (_suspend, "organization is not active")],
)
def test_revoking_or_suspending_refuses_the_next_call(
    app, changing_app, api_client, change, reason
):
    token = issue_access_token(api_client)
    warm(app, token)
    _change(changing_app, api_client, change)
    refused(app, token, reason)


def _narrow_client(client: ApiClient) -> None:
    client.scopes = ["documents:read"]


def _narrow_organization(client: ApiClient) -> None:
    client.organization.approved_scopes = ["documents:read"]


def _call(app, view, token: str) -> int:
    with (
        app.app_context(),
        app.test_request_context(ME, headers={"Authorization": f"Bearer {token}"}),
    ):
        return app.make_response(view()).status_code


@pytest.mark.parametrize("change", [_narrow_client, _narrow_organization])
def test_narrowed_scopes_refuse_the_next_call(app, changing_app, api_client, change):
    @require_token("invoices:write")
    def send_invoice():
        return {"ok": True}

    token = issue_access_token(api_client, ["invoices:write"])
    assert _call(app, send_invoice, token) == 200
    assert _call(app, send_invoice, token) == 200
    _change(changing_app, api_client, change)
    assert _call(app, send_invoice, token) == 403
    verified, _ = accepted(app, token)
    assert verified.scopes == []


def test_revoking_with_the_cli_of_another_process_refuses_the_next_call(app, other_app, api_client):
    token = issue_access_token(api_client)
    warm(app, token)
    with other_app.app_context():  # else the command runs in the test's (this app's) context
        result = other_app.test_cli_runner().invoke(
            args=["clients", "revoke", api_client.client_id]
        )
    assert result.exit_code == 0, result.output
    refused(app, token, "client was revoked")


@job
def _suspend_organization(organization_id: int) -> None:
    db.session.get(Organization, organization_id).status = OrgStatus.SUSPENDED


def test_a_job_of_another_process_suspending_the_organization_refuses_the_next_call(
    app, other_app, api_client
):
    token = issue_access_token(api_client)
    warm(app, token)
    with other_app.app_context():
        _suspend_organization(api_client.organization_id)  # as an RQ worker runs it
    refused(app, token, "organization is not active")


def test_a_bulk_update_through_the_orm_refuses_the_next_call(app, other_app, api_client):
    token = issue_access_token(api_client)
    warm(app, token)
    with other_app.app_context():
        db.session.execute(
            update(Organization)
            .where(Organization.id == api_client.organization_id)
            .values(status=OrgStatus.SUSPENDED)
        )
        db.session.commit()
    refused(app, token, "organization is not active")


def test_a_snapshot_older_than_the_max_age_is_loaded_again(app, api_client, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_CLIENT_CACHE_SECONDS", 0.2)
    clock = SimpleNamespace(now=time.monotonic())
    clock.monotonic = lambda: clock.now
    monkeypatch.setattr(client_cache, "time", clock)  # the cache's clock, not the process's
    token = issue_access_token(api_client)
    warm(app, token)
    clock.now += 0.25
    _, statements = accepted(app, token)
    assert len(_client_queries(statements)) == 1


def test_with_the_cache_turned_off_every_call_loads_the_client(app, api_client, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_CLIENT_CACHE_SECONDS", 0)
    token = issue_access_token(api_client)
    for _ in range(3):
        _, statements = accepted(app, token)
        assert len(_client_queries(statements)) == 1


# -- the epoch -----------------------------------------------------------------------------------


def _epoch(redis: Redis) -> bytes | None:
    return redis.get(client_cache.EPOCH_KEY)


def test_only_committed_changes_that_matter_move_the_epoch(app, api_client, redis):
    accepted(app, issue_access_token(api_client))  # sets the first epoch
    first = _epoch(redis)
    assert first

    api_client.last_used_at = api_client.last_token_at = services.utcnow()
    db.session.commit()
    assert _epoch(redis) == first, "last_used_at / last_token_at are not what the check reads"

    api_client.name = "Rolled back"
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert _epoch(redis) == first, "a rolled back change is forgotten"

    nested = db.session.begin_nested()
    db.session.get(ApiClient, api_client.id).name = "In a savepoint"
    nested.commit()
    assert _epoch(redis) == first, "a released savepoint is not a commit"
    db.session.commit()
    assert _epoch(redis) not in (None, first)


def test_creating_a_client_moves_the_epoch(app, api_client, redis):
    accepted(app, issue_access_token(api_client))
    first = _epoch(redis)
    new_client(api_client.organization, name="Second client")
    assert _epoch(redis) not in (None, first)


def test_redis_flushed_means_every_snapshot_is_stale(app, other_app, api_client, redis):
    token = issue_access_token(api_client)
    warm(app, token)
    redis.flushdb()  # Redis restarted empty: the epoch the snapshot was loaded under is gone
    _, statements = accepted(app, token)
    assert len(_client_queries(statements)) == 1
    assert _epoch(redis)

    # A change whose epoch bump Redis then loses is still seen.
    warm(app, token)
    _change(other_app, api_client, _suspend)
    redis.flushdb()
    refused(app, token, "organization is not active")


def test_the_deny_list_is_honoured_on_cached_calls_and_after_a_flush(app, api_client, redis):
    token = issue_access_token(api_client)
    warm(app, token)
    claims = claims_of(token)
    denylist.deny(claims["jti"], api_client, tokens.VerifiedToken(claims, api_client).expires_at)
    db.session.commit()
    refused(app, token, "revoked")
    redis.flushdb()
    refused(app, token, "revoked")
    warm(app, issue_access_token(api_client))


def test_a_failed_epoch_bump_is_logged_and_this_process_forgets_at_once(
    app, api_client, monkeypatch
):
    token = issue_access_token(api_client)
    warm(app, token)
    broken = Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2)  # nothing listens there
    with monkeypatch.context() as patch, capture_logs() as logs:
        patch.setitem(app.extensions, "redis", broken)
        _suspend(api_client)
        db.session.commit()  # the commit itself succeeds
    broken.close()
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(errors) == 1
    assert "epoch not moved" in errors[0]["event"]
    refused(app, token, "organization is not active")


# -- the verified-token cache ---------------------------------------------------------------------


def _count_decodes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = tokens.decode

    def counting(token, **kwargs):
        calls.append(token)
        return real(token, **kwargs)

    monkeypatch.setattr(tokens, "decode", counting)
    return calls


def test_a_verified_token_is_not_decoded_again(app, api_client, monkeypatch):
    decodes = _count_decodes(monkeypatch)
    token = issue_access_token(api_client)
    warm(app, token)
    accepted(app, token)
    assert decodes == [token]


def test_refused_tokens_are_not_remembered(app, api_client, monkeypatch):
    decodes = _count_decodes(monkeypatch)
    now = int(time.time())
    expired = forge_token(api_client, iat=now - 1000, exp=now - 100)
    refused(app, expired, "expired")
    refused(app, expired, "expired")
    assert decodes == [expired, expired]


def test_an_expired_token_is_refused_even_when_cached(app, api_client, monkeypatch):
    decodes = _count_decodes(monkeypatch)
    now = int(time.time())
    token = forge_token(api_client, exp=now + 30)
    warm(app, token)
    assert len(decodes) == 1

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 31)
    refused(app, token, "expired")
    refused(app, token, "expired")


def test_a_token_whose_key_is_no_longer_published_is_refused_even_when_cached(app, api_client):
    token = issue_access_token(api_client)
    warm(app, token)
    old_kid = keys.current_kid()
    keys.rotate()
    retired = db.session.scalar(select(SigningKey).where(SigningKey.kid == old_kid))
    retired.publish_until = services.utcnow()
    db.session.commit()
    refused(app, token, "unknown key")


def test_the_token_cache_is_per_issuer_and_audience(app, api_client, monkeypatch):
    token = issue_access_token(api_client)
    warm(app, token)
    monkeypatch.setitem(app.config, "OAUTH_AUDIENCE", "https://other-api.example")
    refused(app, token, "aud")


# -- last use ------------------------------------------------------------------------------------


def _updates_of_api_clients(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().startswith("UPDATE api_clients")]


def test_last_use_is_written_once_not_on_every_cached_call(app, client, api_client):
    headers = {"Authorization": f"Bearer {issue_access_token(api_client)}"}
    with sql_statements() as first_call:
        assert client.get(ME, headers=headers).status_code == 200
    assert len(_updates_of_api_clients(first_call)) == 1
    with sql_statements() as later_calls:
        for _ in range(4):
            assert client.get(ME, headers=headers).status_code == 200
    assert [s for s in later_calls if "api_clients" in s] == []
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at is not None


def test_last_use_written_by_another_process_is_not_written_again(
    app, other_app, client, api_client, monkeypatch
):
    """A snapshot's last_used_at may be older than the row's; it is read again before writing."""
    api_client.last_used_at = ago(seconds=30)
    db.session.commit()
    headers = {"Authorization": f"Bearer {issue_access_token(api_client)}"}
    assert client.get(ME, headers=headers).status_code == 200  # cached; not due, nothing written

    later = services.utcnow() + dt.timedelta(seconds=61)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    with sql_statements() as statements:
        assert other_app.test_client().get(ME, headers=headers).status_code == 200
    assert len(_updates_of_api_clients(statements)) == 1  # the other process wrote it

    with sql_statements() as statements:
        assert client.get(ME, headers=headers).status_code == 200
        assert client.get(ME, headers=headers).status_code == 200
    assert _updates_of_api_clients(statements) == []
    db.session.expire_all()
    assert db.session.get(ApiClient, api_client.id).last_used_at == later


# -- the cache itself ----------------------------------------------------------------------------


def test_the_lru_keeps_the_most_recently_used_entries():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    cache.discard("a")
    assert cache.get("a") is None
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0
