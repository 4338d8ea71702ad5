"""A werkzeug server the mock ERP controls, so the "refuse" fault can really close its socket.

Under ``flask run`` or gunicorn the listening socket belongs to someone else; here the main
thread owns it. A refuse request shuts the server down, closes the socket (new connections get
ECONNREFUSED), waits, and binds the same port again.
"""

from __future__ import annotations

import errno
import queue
import threading
import time

import structlog
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = structlog.get_logger("mock_erp.server")

POLL_INTERVAL = 0.05  # how fast shutdown() is noticed
REBIND_ATTEMPTS = 100


class OneRequestPerConnection(WSGIRequestHandler):
    # HTTP/1.0 closes each connection after its answer. With keep-alive, a client's pooled
    # connection would outlive the closed listening socket and the refuse fault would not bite.
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs every request itself, with more context


class ControlledServer:
    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._refusals: queue.Queue[tuple[float, threading.Event]] = queue.Queue()

    def refuse(self, seconds: float) -> None:
        """Close the listening socket for `seconds`; returns once it is closed."""
        closed = threading.Event()
        self._refusals.put((seconds, closed))
        closed.wait(timeout=5)

    def run(self) -> None:
        """Serve until interrupted, going dark whenever a refusal is asked for."""
        while True:
            server = self._bind()
            worker = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True
            )
            worker.start()
            log.info("mock_erp.listening", host=self.host, port=self.port)
            seconds, closed = self._next_refusal()
            server.shutdown()
            server.server_close()
            closed.set()
            log.warning("mock_erp.refusing_connections", seconds=seconds)
            time.sleep(seconds)

    def _next_refusal(self) -> tuple[float, threading.Event]:
        # Poll rather than block forever so that Ctrl-C reaches the main thread.
        while True:
            try:
                return self._refusals.get(timeout=0.5)
            except queue.Empty:
                continue

    def _bind(self) -> BaseWSGIServer:
        for _ in range(REBIND_ATTEMPTS):
            try:
                return make_server(
                    self.host,
                    self.port,
                    self.app,
                    threaded=True,
                    request_handler=OneRequestPerConnection,
                )
            except OSError as exc:  # the port may linger for a moment after a refusal
                if exc.errno != errno.EADDRINUSE:
                    raise
                time.sleep(0.05)
        raise RuntimeError(f"cannot bind {self.host}:{self.port} again")


def serve(app: Flask, host: str, port: int) -> None:
    """Run the mock ERP with the refuse fault enabled."""
    controlled = ControlledServer(app, host, port)
    app.extensions["mock_erp"].faults.refuse_hook = controlled.refuse
    try:
        controlled.run()
    except KeyboardInterrupt:
        log.info("mock_erp.stopped")
