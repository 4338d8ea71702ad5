"""A first `make run` on an empty database shows invoices at every end of the pipeline.

It used to seed the demo before the mock ERP was started: the demo could not take an invoice to
PAID or DEAD without an ERP that answers, and seeding again did not redo it. This runs the
Makefile's own `run` recipe, as a newcomer does, against a throwaway SQLite database, waits for
the worker to settle the demo documents, and stops everything it started."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.erp.fixtures import free_port

pytestmark = [pytest.mark.slow, pytest.mark.no_db]
ROOT = Path(__file__).resolve().parents[2]
MOVING = ("RECEIVED", "NORMALIZED", "VALIDATED", "POSTING")


def _query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def _wait(check, what: str, log: Path, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if check():
            return
        time.sleep(1)
    pytest.fail(
        f"{what} did not happen (in {timeout:.0f} s, or make stopped):\n{log.read_text()[-4000:]}"
    )


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # make, run_all and everything they started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.timeout(400)
def test_a_first_make_run_shows_paid_dead_posted_held_and_rejected_invoices(tmp_path):
    database = tmp_path / "portal.sqlite"
    (tmp_path / "prometheus").mkdir()
    web, erp = free_port(), free_port()
    env = os.environ | {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{database}",
        "MOCK_ERP_DATABASE_URL": f"sqlite:///{tmp_path / 'mock_erp.sqlite'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "PORT": str(web),
        "MOCK_ERP_PORT": str(erp),
        "PAYMENT_SYNC_MINUTES": "0",
    }
    env.pop("ERP_URL", None)  # make run points the portal at the mock ERP it starts
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        # -o install: the virtualenv is there already; never reinstall it from a test.
        process = subprocess.Popen(
            ["make", "-o", "install", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # The portal answering, not its banner: on a busy machine gunicorn may boot after the
        # 30 s the banner waits for.
        _wait(lambda: _ready(web), "the portal answering /readyz", log, 240, process)
        placeholders = ", ".join(f"'{state}'" for state in MOVING)
        _wait(
            lambda: (
                not _query(
                    database,
                    f"SELECT id FROM documents WHERE state IN ({placeholders})",  # noqa: S608
                )
            ),
            "the worker settling the demo documents",
            log,
            120,
            process,
        )
        states = dict(_query(database, "SELECT state, count(*) FROM documents GROUP BY state"))
        for state in ("PAID", "DEAD", "POSTED", "ON_HOLD", "REJECTED", "APPLIED"):
            assert states.get(state), (state, states)
        ((paid_on, reference),) = _query(
            database, "SELECT paid_on, payment_reference FROM documents WHERE state = 'PAID'"
        )
        assert paid_on, reference
        assert reference
    finally:
        _stop(process)
