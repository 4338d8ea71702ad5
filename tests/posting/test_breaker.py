"""The ERP circuit breaker shared through Redis: every transition, each recorded once with its
time; posting deferred (not failed) while it is open; and a breaker of the process's own when
Redis is gone."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.db import db
from app.jobs import ERP_QUEUE, redis_connection
from app.posting import breaker, services
from app.posting.models import BreakerEvent, PostingAttempt
from tests.erp.fixtures import free_port
from tests.posting.conftest import validated_invoice

EP = "ap-invoices"


@pytest.fixture
def tight(app, monkeypatch):
    """Opens after 3 failures within 10 s, stays open 5 s."""
    for name, value in {
        "BREAKER_FAILURE_THRESHOLD": 3,
        "BREAKER_WINDOW_SECONDS": 10,
        "BREAKER_OPEN_SECONDS": 5,
        "POSTING_LEASE_SECONDS": 30,
    }.items():
        monkeypatch.setitem(app.config, name, value)


def changes() -> list[tuple[str, str, str]]:
    events = db.session.scalars(select(BreakerEvent).order_by(BreakerEvent.id))
    return [(e.from_state, e.to_state, e.scope) for e in events]


def fail(times: int, now: float) -> None:
    for _ in range(times):
        breaker.record_failure(EP, "server_error: 500", now=now)


def test_it_opens_after_enough_failures_within_the_window(tight):
    now = 1_000.0
    fail(2, now)
    fail(1, now + 20)  # the first two fell out of the window
    assert breaker.current_states()[EP] == "closed"
    assert breaker.allow(EP, now=now + 20).allowed
    fail(2, now + 21)
    assert breaker.current_states()[EP] == "open"
    assert changes() == [("closed", "open", "shared")]


def test_while_open_callers_are_told_when_to_come_back(tight):
    fail(3, 1_000.0)
    decision = breaker.allow(EP, now=1_001.0)
    assert not decision.allowed
    assert 1_005.0 <= decision.retry_at <= 1_010.0  # the open period, plus jitter


def test_after_the_open_period_one_probe_goes_through_and_success_closes_it(tight):
    fail(3, 1_000.0)
    probe = breaker.allow(EP, now=1_006.0)
    assert probe.allowed
    assert probe.probe
    assert breaker.current_states()[EP] == "half_open"
    assert not breaker.allow(EP, now=1_006.5).allowed  # only one probe at a time
    breaker.record_success(EP)
    assert breaker.current_states()[EP] == "closed"
    assert breaker.allow(EP, now=1_007.0).allowed
    assert changes() == [
        ("closed", "open", "shared"),
        ("open", "half_open", "shared"),
        ("half_open", "closed", "shared"),
    ]


def test_a_failed_probe_opens_it_again_for_another_period(tight):
    fail(3, 1_000.0)
    assert breaker.allow(EP, now=1_006.0).probe
    breaker.record_failure(EP, "read_timeout", now=1_006.2)
    assert breaker.current_states()[EP] == "open"
    assert not breaker.allow(EP, now=1_010.0).allowed
    assert breaker.allow(EP, now=1_011.5).probe
    assert changes()[-2:] == [("half_open", "open", "shared"), ("open", "half_open", "shared")]


def test_the_state_is_shared_by_every_process_on_the_same_redis(tight):
    fail(3, 1_000.0)
    raw = redis_connection().hget(f"{breaker.PREFIX}:{EP}:state", "state")
    assert raw == b"open"
    breaker.reset_local()  # another process: nothing in memory
    assert not breaker.allow(EP, now=1_001.0).allowed


def test_posting_is_deferred_while_open_without_an_attempt(
    client, lakeside, fake_portal_erp, settings, tight
):
    document_id = validated_invoice(client, lakeside, fake_portal_erp)
    fail(3, time.time())
    fake_portal_erp.calls.clear()
    assert services.post(document_id) == "deferred"
    assert fake_portal_erp.calls == []
    assert db.session.scalars(select(PostingAttempt)).all() == []
    scheduled = ScheduledJobRegistry(queue=Queue(ERP_QUEUE, connection=redis_connection()))
    assert [
        job_id for job_id in scheduled.get_job_ids() if job_id.startswith(f"post-{document_id}-at-")
    ]


def test_the_ops_history_lists_the_newest_change_first(tight):
    fail(3, 1_000.0)
    breaker.allow(EP, now=1_006.0)
    assert [(e.from_state, e.to_state) for e in breaker.history(1)] == [("open", "half_open")]


@pytest.fixture
def own_redis(app, monkeypatch, tmp_path):
    """A Redis server of this test's own on a spare port, which the test may stop."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.5)
    for _ in range(100):
        try:
            connection.ping()
            break
        except Exception:
            time.sleep(0.05)
    monkeypatch.setitem(app.extensions, "redis", connection)
    yield process
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=5)
    connection.close()


@pytest.mark.slow
def test_with_redis_gone_each_process_falls_back_to_its_own_breaker(own_redis, tight):
    fail(1, 1_000.0)  # counted in Redis
    own_redis.terminate()
    own_redis.wait(timeout=5)
    assert breaker.allow(EP, now=1_000.5).allowed  # no Redis: the local breaker is closed
    fail(3, 1_001.0)
    assert breaker.current_states()[EP] == "open (local)"
    assert not breaker.allow(EP, now=1_002.0).allowed
    probe = breaker.allow(EP, now=1_007.0)
    assert probe.probe
    breaker.record_success(EP)
    assert breaker.current_states()[EP] == "closed (local)"
    assert changes() == [
        ("closed", "open", "local"),
        ("open", "half_open", "local"),
        ("half_open", "closed", "local"),
    ]
