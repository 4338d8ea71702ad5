"""ERP fixtures for the whole suite: the mock ERP as a real subprocess, clients to it, the fake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from app.erp.client import ErpClient
from app.erp.fake import RecordingErp

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-erp-api-key"
ADMIN_KEY = "test-erp-admin-key"
START_TIMEOUT = 20.0


@dataclass
class MockErpProcess:
    url: str
    api_key: str
    admin_key: str
    database_url: str
    process: subprocess.Popen
    log: IO[bytes]
    _clients: list[ErpClient] = field(default_factory=list)

    def admin(self, method: str, path: str, json: Any = None) -> requests.Response:
        return requests.request(
            method,
            self.url + path,
            json=json,
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=(2, 30),
        )

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        response = self.admin("PUT", "/admin/faults", faults)
        assert response.status_code == 200, response.text
        return response.json()

    def clear_faults(self) -> None:
        # A refuse fault may still be running: wait for the socket to come back first.
        self.wait_until_up()
        assert self.admin("DELETE", "/admin/faults").status_code == 200

    def reset(self) -> None:
        self.wait_until_up()
        assert self.admin("POST", "/admin/reset").status_code == 200

    def client(self, connect_timeout: float = 1.0, read_timeout: float = 5.0, **kw) -> ErpClient:
        erp = ErpClient(
            kw.pop("url", self.url), kw.pop("api_key", self.api_key), connect_timeout, read_timeout
        )
        self._clients.append(erp)
        return erp

    def close_clients(self) -> None:
        while self._clients:
            self._clients.pop().close()

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds waited until /healthz answers; fails if the process died."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"mock ERP exited with {self.process.returncode}; see {self.log.name}")
            try:
                if requests.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        pytest.fail(f"mock ERP did not answer within {timeout}s; see {self.log.name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mock_erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockErpProcess]:
    """The mock ERP running as `python -m app.erp.mock` on a free port with a fresh SQLite DB."""
    workdir = tmp_path_factory.mktemp("mock_erp")
    port = free_port()
    # TEST_MOCK_ERP_DATABASE_URL runs the suite on PostgreSQL instead (its tables are dropped).
    database_url = (
        os.environ.get("TEST_MOCK_ERP_DATABASE_URL") or f"sqlite:///{workdir / 'erp.sqlite'}"
    )
    env = os.environ | {
        "MOCK_ERP_PORT": str(port),
        "MOCK_ERP_DATABASE_URL": database_url,
        "MOCK_ERP_API_KEY": API_KEY,
        "MOCK_ERP_ADMIN_KEY": ADMIN_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    log = (workdir / "mock_erp.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.erp.mock"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    erp = MockErpProcess(url, API_KEY, ADMIN_KEY, database_url, process, log)
    try:
        erp.wait_until_up()
        yield erp
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def erp_server(mock_erp: MockErpProcess) -> Iterator[MockErpProcess]:
    """The shared mock ERP for one test: faults cleared and clients closed afterwards."""
    yield mock_erp
    mock_erp.close_clients()
    mock_erp.clear_faults()


@pytest.fixture
def erp_client(erp_server: MockErpProcess) -> ErpClient:
    return erp_server.client()


@pytest.fixture
def fake_erp() -> RecordingErp:
    return RecordingErp()
