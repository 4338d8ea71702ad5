"""Database connections found dead (a restart, a failover, `pg_terminate_backend`), counted
across every process in Redis per RECONNECT_BUCKET seconds, for the console. SQLAlchemy
invalidates such a connection and the unit of work runs again on a fresh one
(`app.db.unit_of_work_retried`), so nobody else sees them: this count is how ops do."""

from __future__ import annotations

import time
from typing import cast

import structlog
from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.pool import Pool

from app.jobs import redis_connection

log = structlog.get_logger(__name__)

PREFIX = "ops:db-connections-lost"
BUCKET_SECONDS = 5
KEEP_SECONDS = 15 * 60


def _bucket(at: float) -> int:
    return int(at) // BUCKET_SECONDS


def count_lost(at: float | None = None) -> None:
    """One connection found dead now; never raises (the database is already in trouble)."""
    if not has_app_context() or "redis" not in current_app.extensions:
        return  # not the portal (the mock ERP's own app), or not set up yet
    key = f"{PREFIX}:{_bucket(at if at is not None else time.time())}"
    try:
        with redis_connection().pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, KEEP_SECONDS)
            pipe.execute()
    except RedisError:
        log.warning("a lost database connection was not counted: Redis unreachable")


def lost_since(seconds: float, now: float | None = None) -> int | None:
    """Connections found dead in the last `seconds` (whole buckets); None if Redis is down."""
    now = now if now is not None else time.time()
    buckets = range(_bucket(now - seconds), _bucket(now) + 1)
    try:
        keys = [f"{PREFIX}:{b}" for b in buckets]
        values = cast(list[bytes | None], redis_connection().mget(keys))
    except RedisError:
        return None
    return sum(int(value) for value in values if value is not None)


@event.listens_for(Pool, "invalidate")
def _invalidated(_dbapi_connection, _record, exception) -> None:  # type: ignore[no-untyped-def]
    if exception is not None:  # None: closed on purpose, not found dead
        count_lost()
