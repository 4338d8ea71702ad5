"""Signing keys: published at /.well-known/jwks.json, rotated by `flask keys rotate-signing`,
stored encrypted, and kept published exactly as long as tokens they signed can live."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.oauth import keys
from app.oauth.models import SigningKey
from app.oauth.tokens import issue_access_token
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import header_of, new_client

ME = "/api/v1/me"


def _me(client, token: str) -> int:
    return client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code


def _published_kids(client) -> list[str]:
    return [k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]]


def test_jwks_publishes_the_public_half_only(client):
    api_client, _ = new_client(OrganizationFactory(supplier=True))
    token = issue_access_token(api_client)
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    (jwk,) = response.json["keys"]
    assert jwk["kid"] == header_of(token)["kid"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    assert "d" not in jwk


def test_the_private_key_is_encrypted_at_rest(app):
    kid = keys.current_kid()
    raw = db.session.execute(
        text("SELECT private_jwk FROM oauth_signing_keys WHERE kid = :kid"), {"kid": kid}
    ).scalar_one()
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert '"d"' not in raw
    assert kid not in raw
    row = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    assert json.loads(row.private_jwk)["d"]


def test_rotation_keeps_old_tokens_valid_until_they_expire(app, client):
    api_client, _ = new_client(OrganizationFactory(supplier=True))
    old_token = issue_access_token(api_client)
    old_kid = header_of(old_token)["kid"]

    result = app.test_cli_runner().invoke(args=["keys", "rotate-signing"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()

    new_token = issue_access_token(api_client)
    new_kid = header_of(new_token)["kid"]
    assert new_kid != old_kid
    assert f"signing with {new_kid}" in result.output
    assert _me(client, old_token) == 200
    assert _me(client, new_token) == 200
    assert _published_kids(client) == [new_kid, old_kid]

    old = db.session.scalar(select(SigningKey).where(SigningKey.kid == old_kid))
    assert old.publish_until - old.retired_at == dt.timedelta(seconds=900 + 60)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "oauth.signing_key.rotated")
    )
    assert entry.actor_label == "cli"
    assert entry.details == {"kid": new_kid, "previous_kid": old_kid}

    # Once every token the old key signed has expired, the key is gone.
    old.publish_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    keys._cache().clear()
    assert _me(client, old_token) == 401
    assert _me(client, new_token) == 200
    assert _published_kids(client) == [new_kid]

    # ...and the next rotation erases its private half.
    keys.rotate()
    db.session.commit()
    db.session.refresh(old)
    assert old.private_jwk is None


def test_another_process_rotating_is_seen_without_waiting(client):
    """A kid this process has not seen makes it reload the published keys at once, unless it
    reloaded them less than UNKNOWN_KID_RELOAD_SECONDS ago (made-up kids must not each cost a
    query)."""
    api_client, _ = new_client(OrganizationFactory(supplier=True))
    assert _me(client, issue_access_token(api_client)) == 200
    cache = keys._cache()
    before = dict(cache.public)
    new, _ = keys.rotate()
    db.session.commit()
    cache.load(before)  # this process's view from before another process rotated...
    cache.loaded_at -= keys.UNKNOWN_KID_RELOAD_SECONDS  # ...taken a moment ago
    assert new.kid not in cache.public
    token = issue_access_token(api_client)
    assert header_of(token)["kid"] == new.kid
    assert _me(client, token) == 200
    assert new.kid in cache.public
