"""Two real web processes sharing one Redis count every client once: together they let
exactly the quota through."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session

from app.db import db
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.problems import PROBLEM_TYPE_BASE
from app.throttling.models import OrganizationTier, Tier
from tests.throttling.conftest import another_client
from tests.throttling.testapp import DOCUMENTS, ECHO, client_headers

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{base} did not come up")


@pytest.fixture(scope="module")
def servers(app) -> Iterator[list[str]]:
    """Two `python -m tests.throttling.serve` processes on the test database and Redis db."""
    processes, bases = [], []
    try:
        for _ in range(2):
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.throttling.serve", str(port)],
                cwd=ROOT,
                env={**os.environ, "APP_ENV": "testing"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(process)
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            _wait_until_up(base, process)
        yield bases
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def committed_org(app) -> Iterator:
    """An organization and tier committed for real (outside the test's rolled-back
    transaction), so the server processes can see them; removed afterwards."""
    with app.app_context(), Session(db.engine) as session:
        org = Organization(
            name=f"Two-process partner {uuid.uuid4().hex[:8]}",
            kind=OrgKind.PARTNER,
            status=OrgStatus.ACTIVE,
        )
        tier = Tier(
            name=f"Two-process tier {uuid.uuid4().hex[:8]}",
            requests_per_minute=30,
            burst_per_second=1_000,
            requests_per_day=100_000,
            max_body_bytes=1_000,
            documents_per_day=20,
        )
        session.add_all([org, tier])
        session.flush()
        session.add(OrganizationTier(organization_id=org.id, tier_id=tier.id))
        session.commit()
        try:
            yield org, tier, session
        finally:
            session.rollback()
            session.delete(session.get(OrganizationTier, org.id))
            session.delete(tier)
            session.delete(org)
            session.commit()


def _fire(servers: list[str], client, count: int, path: str = ECHO, method: str = "get"):
    """`count` concurrent requests, alternating between the two processes."""

    def one(n: int):
        response = requests.request(
            method, servers[n % 2] + path, headers=client_headers(client), timeout=10
        )
        return n % 2, response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def _passed(results, status: int = 200) -> int:
    return sum(1 for _, code in results if code == status)


def test_the_minute_quota_holds_across_two_processes(servers, committed_org):
    org, _, _ = committed_org
    started = time.monotonic()
    results = _fire(servers, another_client(org.id), 60)
    elapsed = time.monotonic() - started
    # One request per 2 s comes back during the run: within one of the quota.
    assert 30 <= _passed(results) <= 30 + math.floor(elapsed / 2) + 1, (elapsed, results)
    assert _passed(results, 429) == 60 - _passed(results)
    assert {server for server, code in results if code == 200} == {0, 1}


def test_the_burst_holds_across_two_processes(servers, committed_org):
    org, tier, session = committed_org
    tier.burst_per_second = 4
    session.commit()
    time.sleep(2.2)  # the servers' tier cache lives 2 s
    started = time.monotonic()
    results = _fire(servers, another_client(org.id), 16)
    elapsed = time.monotonic() - started
    passed = _passed(results)
    # GCRA refills 4 per second: the burst plus what came back while the requests ran.
    assert 4 <= passed <= 4 + math.floor(elapsed * 4) + 1, (passed, elapsed, results)
    assert _passed(results, 429) == 16 - passed


def test_the_day_quota_holds_across_two_processes(servers, committed_org):
    org, tier, session = committed_org
    tier.requests_per_minute, tier.requests_per_day = 100_000, 25
    session.commit()
    time.sleep(2.2)  # the servers' tier cache lives 2 s
    results = _fire(servers, another_client(org.id), 40)
    assert _passed(results) == 25, results
    assert _passed(results, 429) == 15


def test_documents_are_charged_once_across_two_processes(servers, committed_org):
    org, _, _ = committed_org
    client = another_client(org.id)
    results = _fire(servers, client, 10, path=f"{DOCUMENTS}?count=3", method="post")
    # 20 documents a day, 3 per upload: six uploads fit, all or nothing.
    assert _passed(results, 202) == 6, results
    assert _passed(results, 429) == 4


def test_a_chunked_body_over_the_tier_limit_gets_413_from_a_real_server(servers, committed_org):
    org, _, _ = committed_org

    def body():
        for _ in range(10):
            yield b"x" * 500

    response = requests.post(
        servers[0] + ECHO,
        data=body(),
        headers=client_headers(another_client(org.id)),
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["type"] == PROBLEM_TYPE_BASE + "body-too-large"
