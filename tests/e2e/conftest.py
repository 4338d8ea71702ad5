"""End-to-end: the real portal (gunicorn + seeded demo data) and the mock ERP as processes.

These tests use their own SQLite database, the way `make run` does, so they need none of the
savepoint fixtures of the unit tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.erp.fixtures import API_KEY, MockErpProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _db_transaction() -> None:
    """The portal under test is a separate process with its own database."""


@dataclass
class RunningPortal:
    url: str
    log: Path


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"portal exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or the worker still booting
            time.sleep(0.2)
    pytest.fail(f"portal did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def running_portal(
    tmp_path_factory: pytest.TempPathFactory, mock_erp: MockErpProcess
) -> Iterator[RunningPortal]:
    workdir = tmp_path_factory.mktemp("portal")
    port = free_port()
    env = os.environ | {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir / 'portal.sqlite'}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "ERP_URL": mock_erp.url,
        "ERP_API_KEY": API_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    _run([*flask, "db", "upgrade"], env)
    _run([*flask, "seed-demo"], env)
    log = workdir / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield RunningPortal(url, log)
    finally:
        process.terminate()
        process.wait(timeout=10)
