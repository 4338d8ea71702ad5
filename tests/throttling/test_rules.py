"""The pure arithmetic: GCRA, the day quota, all-or-nothing decisions, headers, the local
limiter and the tier cache, on a fake clock (no database, no Redis)."""

from __future__ import annotations

import pytest

from app.throttling.enforcement import TierCache
from app.throttling.local import PRUNE_ABOVE, LocalLimiter, QuotaSpec, RateSpec
from app.throttling.rules import (
    BURST,
    DAY,
    MINUTE,
    DayCheck,
    Decision,
    LimitState,
    TierLimits,
    decide,
    gcra,
    rate_limit_headers,
)

pytestmark = pytest.mark.no_db


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _run(limiter: LocalLimiter, spec: RateSpec, count: int) -> int:
    return sum(limiter.evaluate([spec]).allowed for _ in range(count))


def test_gcra_allows_the_quota_at_once_then_one_per_interval():
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    spec = RateSpec("k", MINUTE, 6, 60)
    assert _run(limiter, spec, 10) == 6
    clock.now += 9.9
    assert _run(limiter, spec, 1) == 0
    clock.now += 0.1  # one interval (10 s) after the first request
    assert _run(limiter, spec, 2) == 1


def test_gcra_never_lets_twice_the_quota_through_around_a_window_edge():
    clock = FakeClock(1_800_000_000.9)
    limiter = LocalLimiter(clock)
    spec = RateSpec("k", BURST, 10, 1)
    assert _run(limiter, spec, 10) == 10
    clock.now += 0.15  # past the whole second: a fixed window would reset here
    assert _run(limiter, spec, 10) == 1


def test_retry_after_is_when_the_next_request_fits():
    check = gcra(MINUTE, 6, 60, stored_tat=(100 + 60) * 1e6, now_us=100 * 1e6)
    assert not check.allowed
    state = check.state(consumed=False)
    assert state.retry_after == pytest.approx(10.0)
    assert state.remaining == 0
    assert state.reset == pytest.approx(60.0)


def test_a_refusal_by_one_policy_consumes_no_other():
    now = 1_000.0
    burst = gcra(BURST, 5, 1, None, now * 1e6)
    day = DayCheck(DAY, 10, used=10, cost=1, now_s=now)
    decision = decide([burst, day])
    assert not decision.allowed
    assert [s.policy for s in decision.violated] == [DAY]
    assert decision.limits[0].remaining == 5  # the burst was not used
    assert decision.retry_after == 86_400 - 1_000


def test_day_quota_resets_at_utc_midnight():
    check = DayCheck(DAY, 3, used=3, cost=1, now_s=86_400 * 20_000 + 86_000)
    assert check.state(consumed=False).retry_after == 400


def test_headers_follow_the_draft_and_the_binding_policy():
    states = (
        LimitState(BURST, 10, 1, 9, 0.1),
        LimitState(MINUTE, 600, 60, 20, 40.2),
        LimitState(DAY, 50_000, 86_400, 49_000, 3_600.5),
    )
    headers = rate_limit_headers(states, decide_binding(states))
    assert headers["RateLimit-Policy"] == (
        '"burst";q=10;w=1, "minute";q=600;w=60, "day";q=50000;w=86400'
    )
    assert headers["RateLimit"] == '"burst";r=9;t=1, "minute";r=20;t=41, "day";r=49000;t=3601'
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("600", "20")
    assert headers["X-RateLimit-Reset"] == "41"


def decide_binding(states) -> LimitState:
    return Decision(True, states).binding


def test_local_share_is_rounded_down_and_never_zero():
    limits = TierLimits(1, "T", 601, 3, 10, 100, 1)
    share = limits.divided(2)
    assert (share.requests_per_minute, share.burst_per_second, share.requests_per_day) == (
        300,
        1,
        5,
    )
    assert share.documents_per_day == 1
    assert share.max_body_bytes == 100


def test_local_day_quota_and_documents_are_all_or_nothing():
    limiter = LocalLimiter(FakeClock())
    spec = QuotaSpec("docs", "documents", 10, 4)
    assert [limiter.evaluate([], [spec]).allowed for _ in range(3)] == [True, True, False]
    assert limiter.evaluate([], [QuotaSpec("docs", "documents", 10, 2)]).allowed


def test_local_limiter_forgets_idle_clients():
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    for n in range(PRUNE_ABOVE):
        limiter.evaluate([RateSpec(f"k{n}", BURST, 1, 1)])
    clock.now += 5
    limiter.evaluate([RateSpec("fresh", BURST, 1, 1)])
    assert len(limiter._tats) == 1


def test_tier_cache_keeps_limits_for_its_ttl_only():
    clock = FakeClock(0.0)
    cache = TierCache(ttl=2.0, clock=clock)
    loads = []

    def load():
        loads.append(1)
        return TierLimits(len(loads), "T", 1, 1, 1, 1, 1)

    assert cache.get(1, 2, load).tier_id == 1
    clock.now = 1.9
    assert cache.get(1, 2, load).tier_id == 1
    clock.now = 2.1
    assert cache.get(1, 2, load).tier_id == 2
    cache.clear()
    assert cache.get(1, 2, load).tier_id == 3
