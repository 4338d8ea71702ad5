"""Each limit lets exactly its quota through and answers the rest with a 429 problem."""

from __future__ import annotations

import math
import re
import time

import pytest

from app.problems import PROBLEM_TYPE_BASE
from tests.throttling.conftest import another_client, client_on, make_tier
from tests.throttling.helpers import hit, seconds_to_midnight, sleep_until_fraction, statuses
from tests.throttling.testapp import DOCUMENTS, client_headers


def _assert_problem(response, slug: str, policy: str) -> None:
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["type"] == PROBLEM_TYPE_BASE + slug
    assert body["status"] == 429
    assert body["violated-policies"] == [policy]
    assert int(response.headers["Retry-After"]) >= 1


def _gcra_bound(quota: int, per_second: float, started: float) -> int:
    """The most GCRA lets through since `started`: the quota plus what refilled meanwhile
    (plus one for the request in flight when a refill lands)."""
    return quota + math.floor((time.monotonic() - started) * per_second) + 1


def test_burst_lets_exactly_its_quota_through(api):
    client = client_on(make_tier(burst_per_second=5))
    started = time.monotonic()
    results = statuses(api, client, 12)
    passed = results.count(200)
    assert results[:5] == [200] * 5
    assert 5 <= passed <= _gcra_bound(5, 5, started), results
    assert results.count(429) == 12 - passed
    refused = hit(api, client)
    _assert_problem(refused, "rate-limit-burst", "burst")
    assert refused.headers["Retry-After"] == "1"
    assert "at most 5 requests per second" in refused.json["detail"]


def test_minute_lets_exactly_its_quota_through(api):
    client = client_on(make_tier(requests_per_minute=6, burst_per_second=100))
    assert statuses(api, client, 10) == [200] * 6 + [429] * 4
    refused = hit(api, client)
    _assert_problem(refused, "rate-limit-minute", "minute")
    assert "at most 6 requests per minute" in refused.json["detail"]
    # One request comes back every 10 s.
    assert 1 <= int(refused.headers["Retry-After"]) <= 10


def test_day_quota_lets_exactly_its_quota_through(api):
    client = client_on(make_tier(requests_per_day=4))
    assert statuses(api, client, 7) == [200] * 4 + [429] * 3
    refused = hit(api, client)
    _assert_problem(refused, "quota-day", "day")
    assert "4 requests per UTC day" in refused.json["detail"]
    assert abs(int(refused.headers["Retry-After"]) - seconds_to_midnight()) <= 5


def test_each_client_of_an_organization_has_its_own_limits(api):
    first = client_on(make_tier(requests_per_day=2))
    second = another_client(first.organization_id)
    assert statuses(api, first, 3) == [200, 200, 429]
    assert statuses(api, second, 3) == [200, 200, 429]


def test_refused_requests_use_up_nothing(api):
    # Refused by the minute limit, the requests do not eat into the day quota.
    client = client_on(make_tier(requests_per_minute=2, burst_per_second=2, requests_per_day=5))
    assert statuses(api, client, 6) == [200, 200, 429, 429, 429, 429]
    assert hit(api, client).headers["RateLimit"].endswith('"day";r=3;t=' + str(_midnight_t()))


def _midnight_t() -> int:
    return math.ceil(seconds_to_midnight())


def test_documents_quota_is_all_or_nothing(api):
    client = client_on(make_tier(documents_per_day=10))
    headers = client_headers(client)
    assert api.post(f"{DOCUMENTS}?count=4", headers=headers).status_code == 202
    assert api.post(f"{DOCUMENTS}?count=4", headers=headers).status_code == 202
    refused = api.post(f"{DOCUMENTS}?count=4", headers=headers)
    _assert_problem(refused, "quota-documents", "documents")
    assert (
        "10 documents per UTC day, 2 left today, this request carries 4" in refused.json["detail"]
    )
    assert '"documents";q=10;w=86400' in refused.headers["RateLimit-Policy"]
    assert '"documents";r=2;' in refused.headers["RateLimit"]
    assert api.post(f"{DOCUMENTS}?count=2", headers=headers).status_code == 202
    assert api.post(f"{DOCUMENTS}?count=1", headers=headers).status_code == 429


def test_every_response_carries_the_rate_limit_headers(api):
    client = client_on(
        make_tier(burst_per_second=10, requests_per_minute=600, requests_per_day=50_000)
    )
    first = hit(api, client)
    assert first.status_code == 200
    assert first.headers["RateLimit-Policy"] == (
        '"burst";q=10;w=1, "minute";q=600;w=60, "day";q=50000;w=86400'
    )
    day_t = _midnight_t()
    ratelimit = first.headers["RateLimit"]
    assert ratelimit.startswith('"burst";r=9;t=1, "minute";r=599;t=1, "day";r=49999;t=')
    assert abs(int(ratelimit.rsplit("t=", 1)[1]) - day_t) <= 2
    # The single-valued headers follow the policy closest to running out (the burst).
    assert first.headers["X-RateLimit-Limit"] == "10"
    assert first.headers["X-RateLimit-Remaining"] == "9"
    assert first.headers["X-RateLimit-Reset"] == "1"
    second = hit(api, client)
    # One request comes back every 0.1 s, so a slow machine may show one more left.
    assert re.search(r'"minute";r=59[89];t=1', second.headers["RateLimit"])
    assert second.headers["X-RateLimit-Remaining"] in {"8", "9"}


def test_a_429_names_the_violated_policy_in_its_headers(api):
    client = client_on(make_tier(burst_per_second=1, requests_per_minute=100))
    hit(api, client)
    refused = hit(api, client)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "1"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert '"burst";r=0;t=1' in refused.headers["RateLimit"]


@pytest.mark.slow  # waits on the wall clock: the limits are kept by Redis's own time
def test_the_window_edge_does_not_allow_a_double_burst(api):
    """A fixed one-second window would let 5 through at x.8 s and 5 more at (x+1).02 s."""
    client = client_on(make_tier(burst_per_second=5))
    sleep_until_fraction(0.8)
    started = time.monotonic()
    before_edge = statuses(api, client, 5)
    sleep_until_fraction(0.02)
    after_edge = statuses(api, client, 5)
    assert before_edge == [200] * 5
    # ~0.22 s after the first request GCRA has refilled one request (one every 0.2 s);
    # a slow machine may take longer, and the bound grows with the time really spent.
    passed = before_edge.count(200) + after_edge.count(200)
    assert passed <= _gcra_bound(5, 5, started), (before_edge, after_edge)
    assert passed < 10


@pytest.mark.slow  # waits on the wall clock: the limits are kept by Redis's own time
def test_retry_after_is_honoured(api):
    client = client_on(make_tier(burst_per_second=2))
    statuses(api, client, 2)
    refused = hit(api, client)
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))
    assert hit(api, client).status_code == 200


@pytest.mark.slow  # waits on the wall clock: the limits are kept by Redis's own time
def test_retry_after_of_the_minute_limit_is_honoured(api):
    client = client_on(make_tier(requests_per_minute=60, burst_per_second=100))
    assert statuses(api, client, 60).count(200) == 60
    refused = hit(api, client)
    _assert_problem(refused, "rate-limit-minute", "minute")
    time.sleep(int(refused.headers["Retry-After"]))
    assert hit(api, client).status_code == 200


def test_throttling_can_be_switched_off_for_a_benchmark(api, throttle_app):
    client = client_on(make_tier(requests_per_day=1))
    throttle_app.extensions["throttling"].enabled = False
    assert statuses(api, client, 3) == [200, 200, 200]
    assert "RateLimit" not in hit(api, client).headers
