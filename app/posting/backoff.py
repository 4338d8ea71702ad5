"""How long to wait before the next posting attempt: capped exponential backoff with full
jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"), never sooner than the ERP
asked for with Retry-After. Pure: no Flask, no clock."""

from __future__ import annotations

import random


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The most attempt `attempt` (1 = the first retry) may wait: min(cap, base * 2**(n-1))."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 already dwarfs any cap
    return min(cap, base * 2.0**exponent)


def delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait: uniform in [0, ceiling] (full jitter spreads a crowd of workers),
    raised to the ERP's Retry-After when it sent one."""
    jittered = (rng or random).uniform(0.0, ceiling(attempt, base, cap))
    return max(jittered, retry_after or 0.0)
