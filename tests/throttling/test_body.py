"""A body larger than the tier allows gets a 413 problem before it is read whole."""

from __future__ import annotations

import io

from app.problems import PROBLEM_TYPE_BASE
from tests.throttling.conftest import client_on, make_tier
from tests.throttling.testapp import ECHO, client_headers

CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


class CountingStream(io.BytesIO):
    """A request body that remembers how many bytes the app pulled from it."""

    def __init__(self, size: int) -> None:
        super().__init__(b"x" * size)
        self.pulled = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.pulled += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.pulled += len(data)
        return data


def _assert_413(response, limit: int) -> None:
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == PROBLEM_TYPE_BASE + "body-too-large"
    assert response.json["max-body-bytes"] == limit
    assert f"larger than the {limit} bytes" in response.json["detail"]


def test_a_declared_length_over_the_limit_is_refused_unread(api):
    client = client_on(make_tier(max_body_bytes=1_000))
    body = CountingStream(5_000)
    response = api.post(ECHO, input_stream=body, headers=client_headers(client))
    _assert_413(response, 1_000)
    assert body.pulled == 0
    # The request was counted, so its answer carries the rate-limit headers too.
    assert "RateLimit-Policy" in response.headers


def test_a_chunked_body_stops_one_byte_past_the_limit(api):
    client = client_on(make_tier(max_body_bytes=1_000))
    body = CountingStream(50_000)
    response = api.post(
        ECHO, input_stream=body, headers=client_headers(client), environ_overrides=CHUNKED
    )
    _assert_413(response, 1_000)
    assert body.pulled == 1_001


def test_a_body_within_the_limit_is_read_in_full(api):
    client = client_on(make_tier(max_body_bytes=1_000))
    exact = api.post(ECHO, data=b"y" * 1_000, headers=client_headers(client))
    assert exact.status_code == 200
    assert exact.json["received"] == 1_000
    chunked = api.post(
        ECHO,
        input_stream=CountingStream(1_000),
        headers=client_headers(client),
        environ_overrides=CHUNKED,
    )
    assert chunked.status_code == 200
    assert chunked.json["received"] == 1_000


def test_the_tier_limit_replaces_the_app_wide_maximum(api, throttle_app):
    app_wide = throttle_app.config["MAX_CONTENT_LENGTH"]
    client = client_on(make_tier(max_body_bytes=app_wide * 2))
    response = api.post(ECHO, data=b"z" * (app_wide + 10), headers=client_headers(client))
    assert response.status_code == 200
    assert response.json["received"] == app_wide + 10
