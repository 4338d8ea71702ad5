"""Limits kept in this process's memory, used only while Redis does not answer: the same
GCRA and day quota as the Lua scripts, over this process's share of each tier."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.throttling.rules import SECONDS_PER_DAY, DayCheck, Decision, decide, gcra

# Forget idle clients once this many are tracked, so an outage cannot grow memory unbounded.
PRUNE_ABOVE = 10_000


@dataclass(frozen=True)
class RateSpec:
    key: str
    policy: str
    quota: int
    window: int  # seconds


@dataclass(frozen=True)
class QuotaSpec:
    key: str
    policy: str
    quota: int
    cost: int


class LocalLimiter:
    """Thread-safe in-memory GCRA and per-day counters for one process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tats: dict[str, float] = {}
        self._used: dict[tuple[int, str], int] = {}

    def evaluate(self, rates: Sequence[RateSpec], quotas: Sequence[QuotaSpec] = ()) -> Decision:
        """Decide like the Lua scripts do: all policies pass or none is consumed."""
        with self._lock:
            now_s = self._clock()
            day = int(now_s // SECONDS_PER_DAY)
            checks = [
                gcra(r.policy, r.quota, r.window, self._tats.get(r.key), now_s * 1_000_000)
                for r in rates
            ]
            day_checks = [
                DayCheck(q.policy, q.quota, self._used.get((day, q.key), 0), q.cost, now_s)
                for q in quotas
            ]
            decision = decide([*checks, *day_checks], local=True)
            if decision.allowed:
                self._consume(rates, checks, quotas, day)
            return decision

    def _consume(self, rates, checks, quotas, day: int) -> None:
        for spec, check in zip(rates, checks, strict=True):
            self._tats[spec.key] = check.new_tat
        for spec in quotas:
            self._used[(day, spec.key)] = self._used.get((day, spec.key), 0) + spec.cost
        if len(self._tats) > PRUNE_ABOVE or len(self._used) > PRUNE_ABOVE:
            self._prune(day)

    def _prune(self, today: int) -> None:
        now_us = self._clock() * 1_000_000
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now_us}
        self._used = {k: n for k, n in self._used.items() if k[0] == today}

    def clear(self) -> None:
        with self._lock:
            self._tats.clear()
            self._used.clear()
