"""The wait between posting attempts: capped, exponential, fully jittered, and never shorter
than the ERP's Retry-After."""

from __future__ import annotations

import random

import pytest

from app.posting.backoff import ceiling, delay

pytestmark = pytest.mark.no_db


def test_the_ceiling_doubles_then_stops_at_the_cap():
    assert [ceiling(n, base=5, cap=60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert ceiling(10_000, base=5, cap=600) == 600  # no overflow for absurd attempt numbers


def test_every_delay_lies_between_zero_and_the_ceiling_and_spreads_out():
    rng = random.Random(7)  # noqa: S311 - a seeded draw for a repeatable test
    for attempt in range(1, 12):
        waits = [delay(attempt, 5, 300, rng=rng) for _ in range(200)]
        top = ceiling(attempt, 5, 300)
        assert all(0 <= wait <= top for wait in waits)
        # Full jitter: the draws cover the range, they do not cluster at the ceiling.
        assert min(waits) < top * 0.1
        assert max(waits) > top * 0.9


def test_retry_after_is_honoured_even_above_the_cap():
    rng = random.Random(1)  # noqa: S311 - a seeded draw for a repeatable test
    assert all(delay(1, 5, 60, retry_after=30, rng=rng) >= 30 for _ in range(100))
    assert delay(3, 5, 60, retry_after=120, rng=rng) == 120
