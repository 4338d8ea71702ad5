"""The arithmetic of throttling, free of Flask, Redis and the database: tier limits, GCRA,
decisions, and the words and headers a client sees. The Lua scripts mirror `gcra()` here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

SECONDS_PER_DAY = 86_400
# GCRA compares floats of microseconds; a request landing exactly on its slot must pass.
EPSILON_US = 1.0

BURST, MINUTE, DAY, DOCUMENTS = "burst", "minute", "day", "documents"
TOKEN_CLIENT, TOKEN_IP = "token-client", "token-ip"

PROBLEM_TYPES = {
    BURST: "rate-limit-burst",
    MINUTE: "rate-limit-minute",
    DAY: "quota-day",
    DOCUMENTS: "quota-documents",
    TOKEN_CLIENT: "rate-limit-token-client",
    TOKEN_IP: "rate-limit-token-ip",
}


@dataclass(frozen=True)
class TierLimits:
    """A tier's numbers as the enforcement path needs them (a snapshot, not an ORM row)."""

    tier_id: int
    name: str
    requests_per_minute: int
    burst_per_second: int
    requests_per_day: int
    max_body_bytes: int
    documents_per_day: int

    def divided(self, processes: int) -> TierLimits:
        """This process's share when Redis is away: rounded down, so never more in total."""
        share = max(1, processes)
        return replace(
            self,
            requests_per_minute=max(1, self.requests_per_minute // share),
            burst_per_second=max(1, self.burst_per_second // share),
            requests_per_day=max(1, self.requests_per_day // share),
            documents_per_day=max(1, self.documents_per_day // share),
        )


@dataclass(frozen=True)
class LimitState:
    """One policy after a request: what is left, when it is whole again, when to retry."""

    policy: str
    quota: int
    window: int  # seconds
    remaining: int
    reset: float  # seconds until the whole quota is available again
    retry_after: float = 0.0  # seconds; above zero only for a violated policy

    @property
    def violated(self) -> bool:
        return self.retry_after > 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limits: tuple[LimitState, ...]
    local: bool = False  # decided by this process alone because Redis did not answer
    cost: int = 1  # units the call asked for (documents in one upload)

    @property
    def violated(self) -> tuple[LimitState, ...]:
        return tuple(state for state in self.limits if state.violated)

    @property
    def retry_after(self) -> int:
        """Whole seconds, at least 1: the moment every violated policy lets a request by."""
        longest = max((state.retry_after for state in self.violated), default=0.0)
        return max(1, math.ceil(longest))

    @property
    def binding(self) -> LimitState:
        """The policy a single-valued header reports: the violated one that waits longest,
        or else the one closest to running out."""
        if self.violated:
            return max(self.violated, key=lambda s: s.retry_after)
        return min(self.limits, key=lambda s: (s.remaining / s.quota, -s.window))


@dataclass(frozen=True)
class GcraCheck:
    """Generic cell rate algorithm: `quota` requests per `window` seconds, at most `quota` at
    once, refilled continuously, so no window edge ever lets twice the quota through.
    Times are microseconds; `tat` is the theoretical arrival time kept per client."""

    policy: str
    quota: int
    window: int
    now: float
    tat: float  # the stored value, never before now
    new_tat: float  # what would be stored if this request is let through

    @property
    def allowed(self) -> bool:
        return self.new_tat - self.now <= self.window * 1_000_000 + EPSILON_US

    def kept(self, consumed: bool) -> float:
        return self.new_tat if consumed else self.tat

    def state(self, consumed: bool) -> LimitState:
        window_us = self.window * 1_000_000
        interval = window_us / self.quota
        kept = self.kept(consumed)
        remaining = max(0, math.floor((window_us - (kept - self.now) + EPSILON_US) / interval))
        retry = 0.0 if self.allowed else (self.new_tat - window_us - self.now) / 1_000_000
        return LimitState(
            self.policy, self.quota, self.window, remaining, (kept - self.now) / 1_000_000, retry
        )


def gcra(
    policy: str, quota: int, window: int, stored_tat: float | None, now_us: float, *, cost: int = 1
) -> GcraCheck:
    tat = max(stored_tat or 0.0, now_us)
    # Whole microseconds, rounded up so that rounding never favours the client.
    new_tat = math.ceil(tat + cost * window * 1_000_000 / quota)
    return GcraCheck(policy, quota, window, now_us, tat, new_tat)


@dataclass(frozen=True)
class DayCheck:
    """A quota per UTC calendar day, so "today" on the usage page means what it says."""

    policy: str
    quota: int
    used: int
    cost: int
    now_s: float

    @property
    def allowed(self) -> bool:
        return self.used + self.cost <= self.quota

    def state(self, consumed: bool) -> LimitState:
        until_midnight = SECONDS_PER_DAY - (self.now_s % SECONDS_PER_DAY)
        remaining = max(0, self.quota - self.used - (self.cost if consumed else 0))
        retry = 0.0 if self.allowed else until_midnight
        return LimitState(
            self.policy, self.quota, SECONDS_PER_DAY, remaining, until_midnight, retry
        )


def decide(checks: Sequence[GcraCheck | DayCheck], local: bool = False) -> Decision:
    """All or nothing: a request refused by one policy consumes none of the others."""
    allowed = all(check.allowed for check in checks)
    return Decision(allowed, tuple(check.state(allowed) for check in checks), local)


def request_policies(limits: TierLimits) -> tuple[tuple[str, int, int], ...]:
    """(policy, quota, window seconds) of the limits every API request is counted against."""
    return (
        (BURST, limits.burst_per_second, 1),
        (MINUTE, limits.requests_per_minute, 60),
        (DAY, limits.requests_per_day, SECONDS_PER_DAY),
    )


def describe(state: LimitState, cost: int = 1) -> str:
    """The `detail` of a 429: which limit, its size, and when to come back."""
    wait = max(1, math.ceil(state.retry_after))
    texts = {
        BURST: f"Burst limit exceeded: at most {state.quota} requests per second.",
        MINUTE: f"Rate limit exceeded: at most {state.quota} requests per minute.",
        DAY: f"Daily request quota exceeded: {state.quota} requests per UTC day.",
        DOCUMENTS: (
            f"Daily documents quota exceeded: {state.quota} documents per UTC day, "
            f"{state.remaining} left today, this request carries {cost}."
        ),
        TOKEN_CLIENT: f"Too many token requests for this client: at most {state.quota} per minute.",
        TOKEN_IP: f"Too many token requests from this address: at most {state.quota} per minute.",
    }
    return f"{texts[state.policy]} Retry in {wait} s."


def policy_header(limits: Sequence[LimitState]) -> str:
    """`RateLimit-Policy` of draft-ietf-httpapi-ratelimit-headers: quota and window per policy."""
    return ", ".join(f'"{s.policy}";q={s.quota};w={s.window}' for s in limits)


def ratelimit_header(limits: Sequence[LimitState]) -> str:
    """`RateLimit`: remaining units and seconds until each policy's quota is whole again."""
    return ", ".join(f'"{s.policy}";r={s.remaining};t={math.ceil(s.reset)}' for s in limits)


def rate_limit_headers(limits: Sequence[LimitState], binding: LimitState) -> dict[str, str]:
    """The draft's headers plus the older X-RateLimit-* trio (reset in seconds from now)."""
    return {
        "RateLimit-Policy": policy_header(limits),
        "RateLimit": ratelimit_header(limits),
        "X-RateLimit-Limit": str(binding.quota),
        "X-RateLimit-Remaining": str(binding.remaining),
        "X-RateLimit-Reset": str(math.ceil(binding.reset)),
    }
