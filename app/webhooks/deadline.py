"""A wall-clock limit on one whole HTTP exchange: resolve, connect, send, read the status,
the headers and the first bytes.

requests' `timeout` bounds each socket operation, not the exchange: a receiver that sends a
byte every nine seconds never trips a ten-second read timeout, and would hold the worker (and
the delivery's row lock) as long as it likes. Here a timer shuts down every socket the
exchange opened once the deadline passes, which ends any read or write in progress; each
connection also connects within what is left. Host resolution is bounded by
`app.outbound.resolve` itself.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from app import outbound


class Deadline:
    """`with Deadline(10) as deadline:` ... `deadline.expired` says whether it cut anything."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._ends = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """The exchange is over: nothing is cut from now on."""
        self._timer.cancel()

    def remaining(self) -> float:
        return max(self._ends - time.monotonic(), 0.0)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (at once if it already has)."""
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def session(policy: outbound.Policy, deadline: Deadline) -> Any:
    """A guarded requests session (`app.outbound`) whose connections obey `deadline`."""
    guarded = outbound.session(policy)
    adapter = _DeadlineAdapter(policy, deadline)
    guarded.mount("https://", adapter)
    guarded.mount("http://", adapter)
    return guarded


class _DeadlineAdapter(outbound.GuardedAdapter):
    def __init__(self, policy: outbound.Policy, deadline: Deadline) -> None:
        self.deadline = deadline
        super().__init__(policy)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools(self.deadline)


def _pools(deadline: Deadline) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections connect within what is left and are watched."""

    def new_conn(connection: HTTPConnection, base: type[HTTPConnection]) -> socket.socket:
        left = deadline.remaining()
        if left <= 0:
            raise ConnectTimeoutError(connection, "the deadline passed before connecting")
        asked = connection.timeout
        connection.timeout = min(asked, left) if isinstance(asked, int | float) else left
        sock = base._new_conn(connection)
        deadline.watch(sock)
        return sock

    class Http(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, HTTPConnection)

    class Https(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self, HTTPSConnection)

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    return {"http": HttpPool, "https": HttpsPool}
