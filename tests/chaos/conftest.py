"""The chaos cluster, started once for the suite, and the table of outcomes printed at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.chaos import load
from tests.chaos.cluster import Cluster, drop_database, start_cluster
from tests.chaos.history import POSTING_LANDED, Outcome, table
from tests.erp.fixtures import MockErpProcess

OUTCOMES: list[Outcome] = []


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, mock_erp: MockErpProcess
) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("chaos")
    template = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1/test")
    running = start_cluster(workdir, template, mock_erp)
    try:
        yield running
    finally:
        running.stop()
        if running.redis.process is not None:
            running.redis.stop()
        drop_database(running.database_url)


@pytest.fixture(scope="session")
def client(cluster: Cluster) -> load.Client:
    return load.Client(cluster)


@pytest.fixture(scope="session")
def outcomes() -> list[Outcome]:
    return OUTCOMES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES:
        return
    mode = "posting landed" if POSTING_LANDED else "before posting: VALIDATED invoices are done"
    terminalreporter.section(f"chaos: counts per scenario ({mode})")
    terminalreporter.write_line(table(OUTCOMES))
