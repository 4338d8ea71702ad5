"""Where throttling meets a request: the hook the token check calls, the documents quota the
intake charges, the token endpoint's limits, 429 answers and the rate-limit headers."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Response, current_app, g, has_request_context
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.problems import problem
from app.throttling.body import guard_body
from app.throttling.limiter import ApiClientLike, Limiter
from app.throttling.local import RateSpec
from app.throttling.rules import (
    PROBLEM_TYPES,
    TOKEN_CLIENT,
    TOKEN_IP,
    Decision,
    TierLimits,
    describe,
    rate_limit_headers,
)

_caches: weakref.WeakSet[TierCache] = weakref.WeakSet()
log = structlog.get_logger(__name__)
MAX_CLIENT_ID_IN_KEY = 200


class TierCache:
    """Each client's limits for a few seconds, so the database is not asked on every call.
    Cleared in this process when a tier change commits; other processes see it within
    `ttl` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[int, int], tuple[float, TierLimits]] = {}
        self._lock = threading.Lock()
        _caches.add(self)

    def get(
        self, organization_id: int, client_id: int, load: Callable[[], TierLimits]
    ) -> TierLimits:
        key = (organization_id, client_id)
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None and entry[0] > now:
            return entry[1]
        limits = load()
        with self._lock:
            self._entries[key] = (now + self._ttl, limits)
        return limits

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_tier_caches() -> None:
    for cache in list(_caches):
        cache.clear()


class Throttling:
    """The per-app throttling state: a Redis client of its own with a short timeout, the
    limiter and the tier cache."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.enabled: bool = cfg["THROTTLE_ENABLED"]
        connect = _redis_factory(app)
        # A pooled client for the usage pages; the limiter keeps one connection per thread.
        self.redis = connect() if connect else None
        self.limiter = Limiter(
            self.redis,
            (lambda: connect(single_connection_client=True)) if connect else None,
            processes=cfg["THROTTLE_PROCESS_COUNT"],
            retry_seconds=cfg["THROTTLE_REDIS_RETRY_SECONDS"],
        )
        self.tiers = TierCache(cfg["THROTTLE_TIER_CACHE_SECONDS"])
        self.token_per_client: int = cfg["THROTTLE_TOKEN_PER_CLIENT_PER_MINUTE"]
        self.token_per_ip: int = cfg["THROTTLE_TOKEN_PER_IP_PER_MINUTE"]

    def close(self) -> None:
        self.limiter.close()
        if self.redis is not None:
            self.redis.close()

    def limits_for(self, client: ApiClientLike) -> TierLimits:
        from app.throttling.services import tier_limits_for

        return self.tiers.get(
            client.organization_id,
            client.id,
            lambda: tier_limits_for(client.organization_id, client.id),
        )


def _redis_factory(app: Flask) -> Callable[..., Redis] | None:
    """Clients of its own: a few milliseconds' timeout and no retries, so a slow Redis
    costs one short wait before this process decides alone."""
    if app.config["QUEUE_BACKEND"] == "fake":  # no Redis server at all (make run without one)
        log.info("throttling: no Redis, each process keeps its share of the limits")
        return None
    url = app.config["THROTTLE_REDIS_URL"] or app.config["REDIS_URL"]
    timeout = app.config["THROTTLE_REDIS_TIMEOUT"]

    def connect(**options: Any) -> Redis:
        return Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            **options,
        )

    return connect


def throttling() -> Throttling:
    return current_app.extensions["throttling"]


def too_many_requests(decision: Decision) -> Response:
    """The 429 problem: a type per limit kind, the limit named, Retry-After always."""
    primary = decision.binding
    extra: dict[str, Any] = {"violated-policies": [state.policy for state in decision.violated]}
    return problem(
        429,
        describe(primary, decision.cost),
        type_=PROBLEM_TYPES[primary.policy],
        title="Too Many Requests",
        headers={
            "Retry-After": str(decision.retry_after),
            **rate_limit_headers(decision.limits, primary),
        },
        **extra,
    )


def throttle_hook(api_client: ApiClientLike) -> Response | None:
    """Called by the token check once the client is known: count the call, and refuse it
    (429) or its body (413) when the client's tier says so."""
    ext = throttling()
    if not ext.enabled:
        return None
    limits = ext.limits_for(api_client)
    decision = ext.limiter.hit_request(api_client, limits)
    g.throttle_request = decision
    if not decision.allowed:
        return too_many_requests(decision)
    return guard_body(limits.max_body_bytes)


def charge_documents(api_client: ApiClientLike, count: int) -> Decision:
    """Take `count` documents from the client's daily documents quota, all or none.
    The caller answers `too_many_requests(decision)` when `decision.allowed` is false."""
    ext = throttling()
    if not ext.enabled:
        return Decision(True, (), cost=count)
    limits = ext.limits_for(api_client)
    decision = ext.limiter.charge_documents(api_client, limits, count)
    if has_request_context():
        g.throttle_documents = decision
    return decision


def limit_token_endpoint(client_id: str | None, ip: str) -> Response | None:
    """Call at the top of POST /oauth/token: None to go on, or the 429 to answer.
    Counts per IP always and per client_id when the caller named one."""
    ext = throttling()
    if not ext.enabled:
        return None
    specs = [RateSpec(f"throttle:{{token}}:ip:{ip}", TOKEN_IP, ext.token_per_ip, 60)]
    if client_id:  # unauthenticated input: bounded before it names a Redis key
        key = f"throttle:{{token}}:c:{client_id[:MAX_CLIENT_ID_IN_KEY]}"
        specs.append(RateSpec(key, TOKEN_CLIENT, ext.token_per_client, 60))
    decision = ext.limiter.hit_keys(specs)
    g.throttle_request = decision
    return None if decision.allowed else too_many_requests(decision)


def add_rate_limit_headers(response: Response) -> Response:
    """Every throttled response carries RateLimit-Policy, RateLimit and X-RateLimit-*."""
    decisions = [d for d in (g.get("throttle_request"), g.get("throttle_documents")) if d]
    states = tuple(state for d in decisions for state in d.limits)
    if states:
        combined = Decision(all(d.allowed for d in decisions), states)
        response.headers.update(rate_limit_headers(states, combined.binding))
    return response
