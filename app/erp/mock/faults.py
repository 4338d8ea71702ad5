"""Switchable faults for the mock ERP's /api: latency, errors, 503, hangs, refused connections.

The state lives in the process (the mock runs as one process), behind a lock because the server
is threaded. Waits are interruptible: clearing the faults wakes every request still sleeping.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from app.erp.mock.schemas import FaultsUpdate

HANG_BOUND_SECONDS = 30.0


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: int = 0
    error_rate: float = 0.0
    unavailable: bool = False
    retry_after: int = 5
    hang: bool = False
    hang_seconds: float = HANG_BOUND_SECONDS


@dataclass(frozen=True)
class FaultAnswer:
    """What a faulty ERP answers instead of doing the work."""

    status: int
    code: str
    message: str
    retry_after: int | None = None


class RefuseUnsupportedError(RuntimeError):
    """The app is not running under app.erp.mock.server, which alone can close its socket."""


class FaultState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._calls = 0
        self._wake = threading.Event()
        # Set by app.erp.mock.server.serve(); takes the number of seconds to refuse for.
        self.refuse_hook: Callable[[float], None] | None = None

    def snapshot(self) -> dict:
        with self._lock:
            return {**asdict(self._settings), "refuse_supported": self.refuse_hook is not None}

    def update(self, change: FaultsUpdate) -> dict:
        fields = change.model_dump(exclude_none=True, exclude={"refuse_seconds"})
        with self._lock:
            self._settings = replace(self._settings, **fields)
            self._calls = 0
        if change.refuse_seconds:
            self.refuse(change.refuse_seconds)
        return self.snapshot()

    def clear(self) -> None:
        with self._lock:
            self._settings = FaultSettings()
            self._calls = 0
            woken, self._wake = self._wake, threading.Event()
        woken.set()

    def refuse(self, seconds: float) -> None:
        if self.refuse_hook is None:
            raise RefuseUnsupportedError("refusing connections needs `python -m app.erp.mock`")
        self.refuse_hook(seconds)

    def before_api_call(self) -> FaultAnswer | None:
        """Apply the faults to one /api request; an answer replaces the real response."""
        with self._lock:
            settings, wake = self._settings, self._wake
            fail = self._count_call(settings.error_rate)
        if settings.latency_ms:
            wake.wait(settings.latency_ms / 1000)
        if settings.hang:
            wake.wait(settings.hang_seconds)
            return FaultAnswer(503, "HUNG", "The request hung and was released.")
        if settings.unavailable:
            return FaultAnswer(
                503, "UNAVAILABLE", "Down for maintenance.", retry_after=settings.retry_after
            )
        if fail:
            return FaultAnswer(500, "INTERNAL_ERROR", "Injected failure.")
        return None

    def _count_call(self, rate: float) -> bool:
        # "Every Nth" rather than random: exactly rate x calls fail, spread evenly, so tests
        # can count on it (rate 0.5 fails calls 2, 4, 6...).
        if rate <= 0:
            return False
        before = self._calls
        self._calls += 1
        return math.floor(self._calls * rate) > math.floor(before * rate)
