"""Counting API calls against their tier in Redis, one round trip per decision, and falling
back to this process's share of the limits whenever Redis does not answer in time."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from redis import Redis
from redis.exceptions import RedisError

from app.throttling import scripts
from app.throttling.local import LocalLimiter, QuotaSpec, RateSpec
from app.throttling.metrics import LOCAL_DECISIONS, REDIS_UNAVAILABLE
from app.throttling.rules import (
    BURST,
    DAY,
    DOCUMENTS,
    MINUTE,
    SECONDS_PER_DAY,
    Decision,
    LimitState,
    TierLimits,
    request_policies,
)

log = structlog.get_logger(__name__)


class ApiClientLike(Protocol):
    """What throttling needs of an OAuth client (duck-typed: app.oauth is not imported)."""

    id: int
    client_id: str
    organization_id: int


def client_key(client: ApiClientLike) -> str:
    return f"throttle:{{o{client.organization_id}}}:c{client.id}"


def day_prefix(organization_id: int) -> str:
    return f"throttle:{{o{organization_id}}}:day:"


def _numbers(reply: bytes) -> list[int]:
    return [int(part) for part in reply.split()]


def _states(raw: Sequence[int], policies: Sequence[tuple[str, int, int]]) -> tuple:
    """Turn a script's flat (remaining, reset µs, retry µs) triples into LimitStates."""
    return tuple(
        LimitState(
            policy, quota, window, int(raw[3 * i]), raw[3 * i + 1] / 1e6, raw[3 * i + 2] / 1e6
        )
        for i, (policy, quota, window) in enumerate(policies)
    )


class Limiter:
    """Decides in Redis when it answers, locally while it does not, and tries Redis again
    every `retry_seconds` on its own. It never lets a request through unchecked.

    The scripts are registered on `redis`; calls go through a client per thread, made by
    `connect` and holding a single connection, which spares every call the pool's checkout
    (a lock and a probe read)."""

    def __init__(
        self,
        redis: Redis | None,
        connect: Callable[[], Redis] | None,
        *,
        processes: int,
        retry_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._processes = processes
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._local = LocalLimiter()
        self._lock = threading.Lock()
        self._down_until: float | None = None
        self._threads = threading.local()
        # Weak, so the client of a thread that ended (a dev server's per-request thread) goes
        # away with it and closes its connection.
        self._clients: weakref.WeakSet[Redis] = weakref.WeakSet()
        if redis is not None:
            # Only the SHA1 is computed here; Redis gets a script on first use (EVALSHA,
            # then SCRIPT LOAD once if it does not know it, e.g. after a restart).
            self._request = redis.register_script(scripts.REQUEST)
            self._documents = redis.register_script(scripts.DOCUMENTS)
            self._gcra_keys = redis.register_script(scripts.GCRA_KEYS)

    def _client(self) -> Redis:
        client = getattr(self._threads, "redis", None)
        if client is None:
            client = self._connect()  # type: ignore[misc]
            with self._lock:
                self._clients.add(client)
            self._threads.redis = client
        return client

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            client.close()

    def hit_request(self, client: ApiClientLike, limits: TierLimits) -> Decision:
        """Count one API request against burst, minute and day together."""
        return self._decide(
            lambda: self._request_in_redis(client, limits),
            lambda: self._request_locally(client, limits.divided(self._processes)),
        )

    def charge_documents(self, client: ApiClientLike, limits: TierLimits, count: int) -> Decision:
        """Take `count` documents from today's documents quota, all of them or none."""
        return self._decide(
            lambda: self._documents_in_redis(client, limits.documents_per_day, count),
            lambda: self._documents_locally(
                client, limits.divided(self._processes).documents_per_day, count
            ),
        )

    def hit_keys(self, specs: Sequence[RateSpec]) -> Decision:
        """Count one event against several independent GCRA limits (the token endpoint's)."""
        local_specs = [
            RateSpec(s.key, s.policy, max(1, s.quota // max(1, self._processes)), s.window)
            for s in specs
        ]
        return self._decide(
            lambda: self._keys_in_redis(specs), lambda: self._local.evaluate(local_specs)
        )

    # -- Redis --------------------------------------------------------------------------

    def _request_in_redis(self, client: ApiClientLike, limits: TierLimits) -> Decision:
        raw = _numbers(
            self._request(
                client=self._client(),
                keys=[client_key(client), day_prefix(client.organization_id)],
                args=[
                    client.id,
                    client.client_id,
                    limits.burst_per_second,
                    limits.requests_per_minute,
                    limits.requests_per_day,
                ],
            )
        )
        return Decision(bool(raw[0]), _states(raw[1:], request_policies(limits)))

    def _documents_in_redis(self, client: ApiClientLike, quota: int, count: int) -> Decision:
        raw = _numbers(
            self._documents(
                client=self._client(),
                keys=[day_prefix(client.organization_id)],
                args=[client.id, client.client_id, quota, count],
            )
        )
        return Decision(
            bool(raw[0]), _states(raw[1:], [(DOCUMENTS, quota, SECONDS_PER_DAY)]), cost=count
        )

    def _keys_in_redis(self, specs: Sequence[RateSpec]) -> Decision:
        args: list[int] = []
        for spec in specs:
            args += [spec.quota, spec.window]
        raw = _numbers(
            self._gcra_keys(client=self._client(), keys=[s.key for s in specs], args=args)
        )
        return Decision(
            bool(raw[0]), _states(raw[1:], [(s.policy, s.quota, s.window) for s in specs])
        )

    # -- local --------------------------------------------------------------------------

    def _request_locally(self, client: ApiClientLike, share: TierLimits) -> Decision:
        key = client_key(client)
        rates = [
            RateSpec(f"{key}:{policy}", policy, quota, window)
            for policy, quota, window in request_policies(share)
            if policy in (BURST, MINUTE)
        ]
        return self._local.evaluate(
            rates, [QuotaSpec(f"{key}:day", DAY, share.requests_per_day, 1)]
        )

    def _documents_locally(self, client: ApiClientLike, quota: int, count: int) -> Decision:
        spec = QuotaSpec(f"{client_key(client)}:documents", DOCUMENTS, quota, count)
        decision = self._local.evaluate([], [spec])
        return Decision(decision.allowed, decision.limits, local=True, cost=count)

    # -- switching ----------------------------------------------------------------------

    def _decide(self, remote: Callable[[], Decision], local: Callable[[], Decision]) -> Decision:
        if self._connect is None or self._waiting_to_retry():
            LOCAL_DECISIONS.inc()
            return local()
        try:
            decision = remote()
        except RedisError as error:
            self._went_down(error)
            LOCAL_DECISIONS.inc()
            return local()
        self._came_back()
        return decision

    def _waiting_to_retry(self) -> bool:
        down_until = self._down_until
        return down_until is not None and self._monotonic() < down_until

    def _went_down(self, error: RedisError) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._monotonic() + self._retry_seconds
        if first:  # one line and one count per outage, not one per request
            REDIS_UNAVAILABLE.inc()
            log.warning(
                "throttling: Redis did not answer, using this process's share of the limits",
                error=repr(error),
                retry_seconds=self._retry_seconds,
            )

    def _came_back(self) -> None:
        if self._down_until is None:
            return
        with self._lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            self._local.clear()
            log.info("throttling: Redis answers again, limits are shared across processes")
