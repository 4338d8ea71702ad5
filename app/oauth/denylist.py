"""Revoked access tokens: a Redis deny-list of jti until exp, checked on every API call.

The database keeps the same list (RevokedToken), because Redis only carries work here: when the
deny-list is lost (flushed, restarted without persistence) the first check after that notices the
missing marker key and reloads every unexpired revocation from the database. While Redis cannot
answer at all, the token check asks the database instead (`denied_in_database`), so the API keeps
working with Redis down; after a failure it leaves Redis alone for REDIS_REST_SECONDS, so a hung
Redis costs one timeout per process, not one per call.
"""

from __future__ import annotations

import datetime as dt
import time

from flask import current_app
from sqlalchemy import delete, select

from app.db import db, utcnow
from app.jobs import redis_connection
from app.oauth.models import ApiClient, RevokedToken

KEY_PREFIX = "oauth:revoked:"
LOADED_MARKER = "oauth:revoked:loaded"
REDIS_REST_SECONDS = 5.0
RESTING_UNTIL = "oauth_denylist_redis_resting_until"  # per app, in app.extensions


def _seconds_left(expires_at: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((expires_at - now).total_seconds()) + 1)


def deny(jti: str, client: ApiClient, expires_at: dt.datetime) -> None:
    """Refuse this token from now until it expires (the caller commits the database row)."""
    now = utcnow()
    if expires_at <= now:
        return
    if db.session.scalar(select(RevokedToken.id).where(RevokedToken.jti == jti)) is None:
        db.session.add(RevokedToken(jti=jti, api_client_id=client.id, expires_at=expires_at))
    db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    db.session.flush()
    redis_connection().set(KEY_PREFIX + jti, "1", ex=_seconds_left(expires_at, now))


def is_denied(jti: str) -> bool:
    """One round trip in the usual case; raises redis.RedisError when Redis cannot answer."""
    denied, _ = check(jti)
    return denied


def check(jti: str, also_get: str | None = None) -> tuple[bool, bytes | None]:
    """is_denied, and the value of the key `also_get` read in the same round trip (the token
    check reads the client cache's epoch so: one round trip per API call)."""
    pipe = redis_connection().pipeline(transaction=False)
    pipe.exists(KEY_PREFIX + jti)
    pipe.exists(LOADED_MARKER)
    if also_get is not None:
        pipe.get(also_get)
    denied, loaded, *also = pipe.execute()
    if not loaded:
        reload_from_database()
        denied = redis_connection().exists(KEY_PREFIX + jti)
    return bool(denied), also[0] if also else None


def denied_in_database(jti: str) -> bool:
    """The durable copy, read when Redis cannot answer: one look-up on the unique jti index."""
    query = select(RevokedToken.id).where(
        RevokedToken.jti == jti, RevokedToken.expires_at > utcnow()
    )
    return db.session.scalar(query) is not None


def redis_resting() -> bool:
    """Whether Redis failed this app's token check less than REDIS_REST_SECONDS ago."""
    return time.monotonic() < current_app.extensions.get(RESTING_UNTIL, 0.0)


def rest_redis() -> None:
    """Redis failed: read the database copy for the next REDIS_REST_SECONDS."""
    current_app.extensions[RESTING_UNTIL] = time.monotonic() + REDIS_REST_SECONDS


def reload_from_database() -> int:
    """Copy every unexpired revocation back into Redis, then set the marker."""
    now = utcnow()
    rows = db.session.execute(
        select(RevokedToken.jti, RevokedToken.expires_at).where(RevokedToken.expires_at > now)
    ).all()
    pipe = redis_connection().pipeline(transaction=False)
    for jti, expires_at in rows:
        pipe.set(KEY_PREFIX + jti, "1", ex=_seconds_left(expires_at, now))
    pipe.set(LOADED_MARKER, "1")
    pipe.execute()
    return len(rows)
