"""Small helpers shared by the throttling tests."""

from __future__ import annotations

import time

from tests.throttling.testapp import ECHO, FakeClient, client_headers


def hit(api, client: FakeClient, path: str = ECHO, **kwargs):
    return api.get(path, headers=client_headers(client), **kwargs)


def statuses(api, client: FakeClient, count: int, path: str = ECHO) -> list[int]:
    return [hit(api, client, path).status_code for _ in range(count)]


def seconds_to_midnight() -> float:
    return 86_400 - time.time() % 86_400


def sleep_until_fraction(fraction: float) -> None:
    """Sleep until the wall clock's sub-second part reaches `fraction` (next occurrence)."""
    now = time.time()
    target = int(now) + fraction
    if target <= now:
        target += 1
    time.sleep(target - now)
