"""Redis stopped or hung mid-test: each process falls back to its share of the limits, never
answers 500 and never lets requests through unchecked, then returns to Redis by itself.

Uses a throwaway redis-server on a free port (the shared one on 6379 is left alone)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
from prometheus_client import REGISTRY
from redis import Redis
from redis.exceptions import RedisError
from structlog.testing import capture_logs

from app.db import db
from app.throttling.limiter import client_key
from tests.conftest import IsolatedClient
from tests.throttling.conftest import client_on, make_tier
from tests.throttling.helpers import hit, statuses
from tests.throttling.testapp import build_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]
RETRY_SECONDS = 0.5
TIMEOUT_SECONDS = 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of this test's own, without persistence, that can be killed."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        probe = Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except RedisError:  # still booting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        probe.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def client(self) -> Redis:
        return Redis(port=self.port, socket_timeout=2)


@pytest.fixture
def redis_server():
    server = ThrowawayRedis()
    server.start()
    yield server
    if server.process is not None:
        server.resume()
        server.stop()


@pytest.fixture
def fallback_api(redis_server):
    app = build_app(
        {
            "THROTTLE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
            "THROTTLE_REDIS_TIMEOUT": TIMEOUT_SECONDS,
            "THROTTLE_REDIS_RETRY_SECONDS": RETRY_SECONDS,
            "THROTTLE_PROCESS_COUNT": 2,
        }
    )
    app.test_client_class = IsolatedClient
    yield app.test_client()
    app.extensions["throttling"].close()
    with app.app_context():
        db.engine.dispose()


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _minute_quota(response) -> str:
    return response.headers["RateLimit-Policy"].split('"minute";q=')[1].split(";")[0]


def test_redis_stopped_mid_test_falls_back_to_local_limits_and_recovers(fallback_api, redis_server):
    client = client_on(make_tier(requests_per_minute=20, burst_per_second=100))
    assert statuses(fallback_api, client, 3) == [200, 200, 200]
    assert redis_server.client().exists(client_key(client))
    outages = _metric("portal_throttle_redis_unavailable_total")
    local = _metric("portal_throttle_local_decisions_total")

    redis_server.stop()
    with capture_logs() as logs:
        results = [hit(fallback_api, client) for _ in range(15)]
    codes = [r.status_code for r in results]
    # This process's share is 20 // 2 = 10 per minute, counted afresh: never fail open.
    assert codes == [200] * 10 + [429] * 5, codes
    assert _minute_quota(results[0]) == "10"
    assert all("Retry-After" in r.headers for r in results if r.status_code == 429)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "did not answer" in warnings[0]["event"]
    assert _metric("portal_throttle_redis_unavailable_total") == outages + 1
    assert _metric("portal_throttle_local_decisions_total") == local + 15

    redis_server.start()  # same port, empty (no persistence)
    time.sleep(RETRY_SECONDS + 0.1)
    with capture_logs() as logs:
        back = hit(fallback_api, client)
    assert back.status_code == 200
    assert _minute_quota(back) == "20"
    assert redis_server.client().exists(client_key(client))
    assert any("answers again" in e["event"] for e in logs)


def test_redis_hung_mid_test_costs_one_short_wait_then_local_limits(fallback_api, redis_server):
    client = client_on(make_tier(requests_per_minute=1_000, burst_per_second=100))
    assert hit(fallback_api, client).status_code == 200
    redis_server.pause()
    try:
        started = time.monotonic()
        first = hit(fallback_api, client)
        first_took = time.monotonic() - started
        started = time.monotonic()
        rest = statuses(fallback_api, client, 10)
        rest_took = time.monotonic() - started
    finally:
        redis_server.resume()
    assert first.status_code == 200
    assert _minute_quota(first) == "500"
    assert first_took < 0.5  # one socket timeout, not a hang
    assert rest == [200] * 10
    assert rest_took < 0.5  # while waiting to retry, Redis is not even asked
    time.sleep(RETRY_SECONDS + 0.1)
    assert _minute_quota(hit(fallback_api, client)) == "1000"
