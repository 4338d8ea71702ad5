"""An organization's API usage for its usage page, read from the per-day hashes the Lua
scripts keep in Redis (see app/throttling/scripts.py for their fields)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from app.throttling.limiter import day_prefix
from app.throttling.rules import SECONDS_PER_DAY, TierLimits

HOURS_SHOWN = 24


@dataclass(frozen=True)
class HourUsage:
    start: dt.datetime
    requests: int
    throttled: int
    documents: int


@dataclass(frozen=True)
class ClientUsage:
    api_client_id: int
    label: str
    limits: TierLimits
    requests: int
    documents: int
    throttled: int


@dataclass(frozen=True)
class OrganizationUsage:
    available: bool  # False while Redis does not answer: the page says so instead of failing
    hours: tuple[HourUsage, ...] = ()
    clients: tuple[ClientUsage, ...] = ()

    @property
    def requests_today(self) -> int:
        return sum(c.requests for c in self.clients)

    @property
    def documents_today(self) -> int:
        return sum(c.documents for c in self.clients)

    @property
    def throttled_24h(self) -> int:
        return sum(h.throttled for h in self.hours)


def _decoded(raw: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def _hours(days: dict[int, dict[str, str]], now: dt.datetime) -> tuple[HourUsage, ...]:
    """The last 24 hours, oldest first, the current hour included."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = []
    for back in range(HOURS_SHOWN - 1, -1, -1):
        start = this_hour - dt.timedelta(hours=back)
        fields = days.get(int(start.timestamp()) // SECONDS_PER_DAY, {})
        hours.append(
            HourUsage(
                start=start,
                requests=int(fields.get(f"h{start.hour}", 0)),
                throttled=int(fields.get(f"x{start.hour}", 0)),
                documents=int(fields.get(f"dh{start.hour}", 0)),
            )
        )
    return tuple(hours)


def _clients(
    today: dict[str, str], limits_for: Callable[[int], TierLimits]
) -> tuple[ClientUsage, ...]:
    ids = sorted({int(k.split(":", 1)[1]) for k in today if k[:2] in ("r:", "d:", "x:")})
    return tuple(
        ClientUsage(
            api_client_id=cid,
            label=today.get(f"n:{cid}", str(cid)),
            limits=limits_for(cid),
            requests=int(today.get(f"r:{cid}", 0)),
            documents=int(today.get(f"d:{cid}", 0)),
            throttled=int(today.get(f"x:{cid}", 0)),
        )
        for cid in ids
    )


def organization_usage(
    redis: Redis | None,
    organization_id: int,
    now: dt.datetime,
    limits_for: Callable[[int], TierLimits],
) -> OrganizationUsage:
    """Today's figures per client and the last 24 hours, in one pipelined round trip."""
    if redis is None:
        return OrganizationUsage(available=False)
    today = int(now.timestamp()) // SECONDS_PER_DAY
    try:
        with redis.pipeline(transaction=False) as pipe:
            for day in (today - 1, today):
                pipe.hgetall(day_prefix(organization_id) + str(day))
            yesterday_raw, today_raw = pipe.execute()
    except RedisError:
        return OrganizationUsage(available=False)
    days = {today - 1: _decoded(yesterday_raw), today: _decoded(today_raw)}
    return OrganizationUsage(
        available=True, hours=_hours(days, now), clients=_clients(days[today], limits_for)
    )
