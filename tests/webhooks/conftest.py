"""A webhook receiver on 127.0.0.1 written with the `standardwebhooks` package (the way a
customer would write one), endpoints made by the service the pages use, and the job runner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.db import db
from app.webhooks import services
from app.webhooks.models import WebhookEndpoint
from tests.factories.orgs import OrganizationFactory

# The outbound guard's fake resolver and socket recorder, for the SSRF tests.
from tests.foundation.test_outbound import connections, dns  # noqa: F401


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict | None  # the parsed payload when the signature checked out, else None
    error: str | None


@dataclass
class Receiver:
    """Records every POST; answers from `answers` in order (then 200 "ok"). `secret` is what
    the receiver verifies signatures with, as its owner configured it."""

    url: str
    secret: str | None = None
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.answers.append((status, headers, body))

    def verify(self, headers: dict[str, str], body: bytes) -> Received:
        if self.secret is None:
            return Received(headers, body, None, "no secret configured")
        try:
            return Received(headers, body, Webhook(self.secret).verify(body, headers), None)
        except WebhookVerificationError as exc:
            return Received(headers, body, None, str(exc))


def _serve(receiver_for) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver = receiver_for()
            receiver.received.append(receiver.verify(dict(self.headers.items()), body))
            status, headers, answer = (
                receiver.answers.pop(0) if receiver.answers else (200, {}, b"ok")
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []
    for _, url in _serve(lambda: holder[0]):
        holder.append(Receiver(url + "/hooks"))
        yield holder[0]


@pytest.fixture
def internal_service() -> Iterator[Receiver]:
    """Another local server, standing for something on the internal network."""
    holder: list[Receiver] = []
    for _, url in _serve(lambda: holder[0]):
        holder.append(Receiver(url + "/admin"))
        yield holder[0]


def endpoint_for(
    receiver: Receiver, org=None, events: tuple[str, ...] = ("invoice.received",)
) -> WebhookEndpoint:
    """An endpoint of `org` (a new supplier by default) pointing at the receiver, whose owner
    configures the secret shown once. Committed (the commit releases a savepoint)."""
    org = org or OrganizationFactory(supplier=True)
    endpoint, secret = services.create_endpoint(org, receiver.url, list(events))
    receiver.secret = secret
    db.session.commit()
    return endpoint
