"""Each injected fault of the mock ERP, as the portal's ErpClient sees it."""

from __future__ import annotations

import time

import pytest

from app.erp.client import ErpClient
from app.erp.errors import ErpUnavailable
from tests.erp.fixtures import MockErpProcess, free_port

pytestmark = pytest.mark.no_db


def test_latency_delays_answers(erp_server: MockErpProcess, erp_client: ErpClient) -> None:
    erp_server.set_faults(latency_ms=300)
    started = time.monotonic()
    erp_client.list_facilities()
    assert time.monotonic() - started >= 0.3


def test_error_rate_fails_that_fraction(erp_server: MockErpProcess, erp_client: ErpClient) -> None:
    erp_server.set_faults(error_rate=0.5)
    failures = []
    for _ in range(10):
        try:
            erp_client.list_facilities()
        except ErpUnavailable as exc:
            failures.append(exc)
    assert len(failures) == 5
    assert {(e.status, e.reason, e.retryable) for e in failures} == {(500, "server_error", True)}


def test_unavailable_answers_503_with_retry_after(
    erp_server: MockErpProcess, erp_client: ErpClient
) -> None:
    erp_server.set_faults(unavailable=True, retry_after=7)
    with pytest.raises(ErpUnavailable) as caught:
        erp_client.get_vendor("V1001")
    assert (caught.value.status, caught.value.retry_after) == (503, 7.0)
    assert erp_client.ping() is False
    # The admin API is never faulty: tests can always switch faults off.
    assert erp_server.admin("GET", "/admin/faults").json()["unavailable"] is True


def test_hang_ends_in_a_read_timeout(erp_server: MockErpProcess) -> None:
    erp_server.set_faults(hang=True, hang_seconds=30)
    client = erp_server.client(read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(ErpUnavailable) as caught:
        client.list_items()
    assert caught.value.reason == "read_timeout"
    assert time.monotonic() - started < 2


def test_refuse_closes_the_socket_then_recovers(
    erp_server: MockErpProcess, erp_client: ErpClient
) -> None:
    erp_server.set_faults(refuse_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(ErpUnavailable) as caught:
        erp_client.list_facilities()
    assert caught.value.reason == "connection_refused"
    assert erp_client.ping() is False
    erp_server.wait_until_up(timeout=10)
    assert time.monotonic() - started >= 1.0
    assert len(erp_client.list_facilities()) == 3
    assert erp_client.ping() is True


def test_ping_is_false_fast_when_nothing_listens() -> None:
    client = ErpClient(f"http://127.0.0.1:{free_port()}", "key", 0.5, 0.5)
    started = time.monotonic()
    assert client.ping() is False
    assert time.monotonic() - started < 1
    client.close()


def test_faults_need_the_admin_key(erp_server: MockErpProcess) -> None:
    erp_server.admin_key = "wrong"
    try:
        assert erp_server.admin("PUT", "/admin/faults", {"hang": True}).status_code == 401
    finally:
        erp_server.admin_key = "test-erp-admin-key"
    assert erp_server.admin("GET", "/admin/faults").json()["hang"] is False
