"""When to try a delivery again: pure functions of the attempt number, the answer and the clock.

Backoff grows from seconds to hours (Standard Webhooks and Svix use about the same steps), each
delay spread by +-20 % jitter so that an endpoint coming back is not hit by every retry at once,
for up to three days; a `Retry-After` from the receiver is honoured when it asks for longer.
An endpoint failing for five days is disabled (see `delivery`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random

from rq import Retry

RETRY_WINDOW = dt.timedelta(days=3)
DISABLE_AFTER = dt.timedelta(days=5)
# Seconds to wait after attempt n (1-based); the last step repeats until the window closes.
BACKOFF = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
JITTER = 0.2
# A receiver may ask for at most this much (a Retry-After of a year is not a plan).
MAX_RETRY_AFTER = dt.timedelta(hours=24)
# RQ's own retry covers a job that crashed (database gone), not a failed delivery.
JOB_RETRY = Retry(max=3, interval=[10, 60, 300])


def backoff(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """The delay after failed attempt number `attempt`, with jitter."""
    base = BACKOFF[min(attempt, len(BACKOFF)) - 1]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return dt.timedelta(seconds=base * spread)


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a delay, bounded; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        delay = dt.timedelta(seconds=int(value[:9]))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        delay = when - now
    return max(dt.timedelta(0), min(delay, MAX_RETRY_AFTER))


def next_attempt(
    attempt: int,
    now: dt.datetime,
    retry_until: dt.datetime,
    asked: dt.timedelta | None = None,
    rng: random.Random | None = None,
) -> dt.datetime | None:
    """When to try again after failed attempt `attempt`, or None when the window is over."""
    delay = backoff(attempt, rng)
    if asked is not None:
        delay = max(delay, asked)
    when = now + delay
    return when if when <= retry_until else None
