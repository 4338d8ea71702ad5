"""A live HTTP server for tests that drive the portal with real HTTP clients (OAuth libraries,
requests): the test app served by werkzeug from a thread, on a free port.

Each request gets its own app context and so its own session, bound (by the autouse
`_db_transaction` fixture) to the test's connection: what a request commits is a savepoint inside
the test's transaction, visible to the test and rolled back after it. The server is single-threaded
and the test thread waits while a request runs, so the connection is never used by two threads at
once. Real sockets rather than a requests transport adapter, because the clients under test build
their own sessions, adapters and auth hooks, and should be exercised exactly as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class LiveServer:
    url: str
    server: BaseWSGIServer

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def _live_server_thread(app) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def live_server(_live_server_thread, _db_transaction) -> LiveServer:
    """The portal at `live_server.url`, sharing this test's database transaction."""
    return _live_server_thread
