"""A circuit breaker per ERP endpoint, shared by every worker on every machine through Redis.

closed ──(BREAKER_FAILURE_THRESHOLD failures within BREAKER_WINDOW_SECONDS)──► open
open ──(BREAKER_OPEN_SECONDS later, the first caller takes the one probe)──► half_open
half_open ──(the probe succeeds)──► closed;  half_open ──(the probe fails)──► open

Each step is one Lua script, so two workers never both make the same change and exactly one
records it. While the breaker is not closed a caller gets a time to come back (`Decision`) and
defers its job; it is not failed and does not count as an attempt.

When Redis itself cannot be reached, each process falls back to a breaker of its own in memory
(`LocalBreaker`, the same rules): it still stops hammering a failing ERP, only without the other
processes' failures. Its changes are recorded with scope "local". Every change is written to
`breaker_events` (in the caller's unit of work) and logged.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from app.db import db
from app.jobs import redis_connection
from app.posting.models import BreakerEvent

log = structlog.get_logger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
ENDPOINTS = ("ap-invoices", "payments")
PREFIX = "erp-breaker"

_ALLOW = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {'allow', ''} end
local now, open_for = tonumber(ARGV[1]), tonumber(ARGV[2])
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
if state == 'open' and now < opened + open_for then
  return {'wait', tostring(opened + open_for)}
end
if redis.call('SET', KEYS[3], ARGV[4], 'NX', 'EX', ARGV[3]) then
  if state == 'open' then
    redis.call('HSET', KEYS[1], 'state', 'half_open')
    return {'probe', 'open'}
  end
  return {'probe', ''}
end
return {'wait', tostring(now + open_for)}
"""

_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'half_open' then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  redis.call('DEL', KEYS[3])
  return 'half_open'
end
if state == 'open' then return '' end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2])) + 1)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  redis.call('DEL', KEYS[2])
  return 'closed'
end
return ''
"""

_SUCCESS = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('DEL', KEYS[3])
if state == 'closed' then return '' end
redis.call('HSET', KEYS[1], 'state', 'closed')
redis.call('DEL', KEYS[2])
return state
"""


@dataclass(frozen=True)
class Decision:
    """May the caller call the endpoint now; if not, at what epoch second to come back."""

    allowed: bool
    retry_at: float | None = None
    probe: bool = False


@dataclass(frozen=True)
class Settings:
    threshold: int
    window: float
    open_for: float
    probe_ttl: float

    @classmethod
    def from_config(cls) -> Settings:
        config = current_app.config
        return cls(
            threshold=int(config["BREAKER_FAILURE_THRESHOLD"]),
            window=float(config["BREAKER_WINDOW_SECONDS"]),
            open_for=float(config["BREAKER_OPEN_SECONDS"]),
            probe_ttl=float(config["POSTING_LEASE_SECONDS"]),
        )


def _keys(endpoint: str) -> list[str]:
    return [
        f"{PREFIX}:{endpoint}:state",
        f"{PREFIX}:{endpoint}:failures",
        f"{PREFIX}:{endpoint}:probe",
    ]


def _jittered(retry_at: float, open_for: float) -> float:
    # Deferred jobs must not all wake in the same second and queue behind the one probe.
    return retry_at + random.uniform(0.0, open_for)  # noqa: S311 - spreading load, not secrets


# -- the shared breaker ----------------------------------------------------------------------


def allow(endpoint: str, now: float | None = None) -> Decision:
    """Whether to call `endpoint` now: always while closed; once open, one probe after the
    open period; everyone else is told when to come back."""
    settings, now = Settings.from_config(), now if now is not None else time.time()
    try:
        verdict, extra = _run(
            _ALLOW, endpoint, now, settings.open_for, int(settings.probe_ttl), uuid.uuid4().hex
        )
    except RedisError:
        _redis_gone("allow")
        return local().allow(endpoint, settings, now)
    if verdict == "allow":
        return Decision(True)
    if verdict == "probe":
        if extra:
            _changed(endpoint, OPEN, HALF_OPEN, "shared", "open period over: one probe")
        return Decision(True, probe=True)
    return Decision(False, _jittered(float(extra), settings.open_for))


def record_failure(endpoint: str, reason: str, now: float | None = None) -> None:
    """An ERP failure (unavailable, timeout, 5xx) on `endpoint`."""
    settings, now = Settings.from_config(), now if now is not None else time.time()
    try:
        was = _run(_FAILURE, endpoint, now, settings.window, settings.threshold, uuid.uuid4().hex)
    except RedisError:
        _redis_gone("record_failure")
        local().record_failure(endpoint, settings, now, reason)
        return
    if was:
        _changed(endpoint, str(was), OPEN, "shared", reason)


def record_success(endpoint: str) -> None:
    """The ERP answered `endpoint` (a business refusal counts: the ERP is up)."""
    try:
        was = _run(_SUCCESS, endpoint)
    except RedisError:
        _redis_gone("record_success")
        local().record_success(endpoint)
        return
    if was:
        _changed(endpoint, str(was), CLOSED, "shared", "the ERP answered")


def release_probe(endpoint: str) -> None:
    """Give the probe back unused (the job found nothing to send)."""
    try:
        redis_connection().delete(_keys(endpoint)[2])
    except RedisError:
        _redis_gone("release_probe")
    local().release_probe(endpoint)


def _run(script: str, endpoint: str, *args: Any) -> Any:
    result = redis_connection().eval(script, 3, *_keys(endpoint), *args)
    if isinstance(result, list):
        return [_text(part) for part in result]
    return _text(result)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _redis_gone(operation: str) -> None:
    log.warning("breaker falls back to this process: Redis unreachable", operation=operation)


def _changed(endpoint: str, from_state: str, to_state: str, scope: str, reason: str) -> None:
    log.warning(
        "erp breaker changed",
        endpoint=endpoint,
        from_state=from_state,
        to_state=to_state,
        scope=scope,
        reason=reason,
    )
    db.session.add(
        BreakerEvent(
            endpoint=endpoint,
            from_state=from_state,
            to_state=to_state,
            scope=scope,
            reason=reason[:2000],
        )
    )


# -- what ops see ----------------------------------------------------------------------------


def current_states() -> dict[str, str]:
    """Each endpoint's state now: shared from Redis, or this process's own (marked "(local)")
    when Redis cannot be reached."""
    try:
        connection = redis_connection()
        states = {ep: _text(connection.hget(_keys(ep)[0], "state")) or CLOSED for ep in ENDPOINTS}
    except RedisError:
        return {ep: f"{local().state(ep)} (local)" for ep in ENDPOINTS}
    return states


def history(limit: int) -> list[BreakerEvent]:
    """The newest state changes first."""
    query = select(BreakerEvent).order_by(BreakerEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# -- the fallback while Redis is gone ----------------------------------------------------------


class LocalBreaker:
    """The same breaker in one process's memory, used only while Redis cannot be reached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, str] = {}
        self._opened_at: dict[str, float] = {}
        self._failures: dict[str, list[float]] = {}
        self._probe_until: dict[str, float] = {}

    def state(self, endpoint: str) -> str:
        return self._state.get(endpoint, CLOSED)

    def allow(self, endpoint: str, settings: Settings, now: float) -> Decision:
        with self._lock:
            state = self.state(endpoint)
            if state == CLOSED:
                return Decision(True)
            reopen = self._opened_at.get(endpoint, 0.0) + settings.open_for
            if state == OPEN and now < reopen:
                return Decision(False, _jittered(reopen, settings.open_for))
            if self._probe_until.get(endpoint, 0.0) > now:
                return Decision(False, _jittered(now + settings.open_for, settings.open_for))
            self._probe_until[endpoint] = now + settings.probe_ttl
            changed = state == OPEN
            self._state[endpoint] = HALF_OPEN
        if changed:
            _changed(endpoint, OPEN, HALF_OPEN, "local", "open period over: one probe")
        return Decision(True, probe=True)

    def record_failure(self, endpoint: str, settings: Settings, now: float, reason: str) -> None:
        with self._lock:
            state = self.state(endpoint)
            if state == OPEN:
                return
            recent = [t for t in self._failures.get(endpoint, []) if t > now - settings.window]
            recent.append(now)
            self._failures[endpoint] = recent
            if state == CLOSED and len(recent) < settings.threshold:
                return
            self._state[endpoint], self._opened_at[endpoint] = OPEN, now
            self._failures[endpoint], self._probe_until[endpoint] = [], 0.0
        _changed(endpoint, state, OPEN, "local", reason)

    def record_success(self, endpoint: str) -> None:
        with self._lock:
            state = self.state(endpoint)
            self._probe_until[endpoint] = 0.0
            if state == CLOSED:
                return
            self._state[endpoint], self._failures[endpoint] = CLOSED, []
        _changed(endpoint, state, CLOSED, "local", "the ERP answered")

    def release_probe(self, endpoint: str) -> None:
        with self._lock:
            self._probe_until[endpoint] = 0.0


_local = LocalBreaker()


def local() -> LocalBreaker:
    """This process's fallback breaker."""
    return _local


def reset_local() -> None:
    """Forget this process's fallback state (tests)."""
    global _local  # noqa: PLW0603 - one fallback breaker per process
    _local = LocalBreaker()
