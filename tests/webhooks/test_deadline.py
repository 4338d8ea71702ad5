"""The whole exchange with a receiver has one wall-clock limit: a receiver that dribbles its
answer a byte at a time (each byte well inside a read timeout) is cut off at the limit, the
attempt is logged as unanswered and retried; a host name that does not resolve in time is
given up on too."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app import outbound
from app.db import db, utcnow
from app.jobs import redis_connection
from app.webhooks import delivery as delivery_module
from app.webhooks import events, services
from app.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.intake.helpers import run_jobs
from tests.webhooks.conftest import endpoint_for

LIMIT = 1  # seconds: the patched TIMEOUT
BYTE_EVERY = 0.3  # seconds between two bytes: never long enough for a read timeout of LIMIT

STATUS_SLOWLY = "status"  # dribbles the status line and headers
BODY_SLOWLY = "body"  # answers 200 at once, then dribbles a body with no length


class SlowReceiver:
    """A real HTTP server on 127.0.0.1 that reads the request, then answers a byte at a time."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hooks"
        self.secret: str | None = None  # endpoint_for sets it
        self.cut_after: float | None = None  # seconds from the request to the client's cut
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.recv(65536)  # the request (small: a thin payload)
            started = time.monotonic()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
            if self.phase == BODY_SLOWLY:
                conn.sendall(head)
                head = b"x" * 200
            try:
                for byte in head * 20:
                    conn.sendall(bytes([byte]))
                    time.sleep(BYTE_EVERY)
            except OSError:  # the portal hung up
                self.cut_after = time.monotonic() - started

    def close(self) -> None:
        self.server.close()
        self._thread.join(timeout=30)


@pytest.fixture(params=[STATUS_SLOWLY, BODY_SLOWLY])
def slow_receiver(request, monkeypatch) -> Iterator[SlowReceiver]:
    monkeypatch.setattr(delivery_module, "TIMEOUT", LIMIT)
    receiver = SlowReceiver(request.param)
    yield receiver
    receiver.close()


def _reload(delivery: WebhookDelivery) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery.id)


def test_a_receiver_that_dribbles_its_answer_is_cut_off_and_retried(slow_receiver):
    endpoint = endpoint_for(slow_receiver)  # type: ignore[arg-type]
    delivery = services.ping(endpoint)
    db.session.commit()
    started = time.monotonic()

    run_jobs()

    took = time.monotonic() - started
    assert took < LIMIT + 2, f"the attempt held the worker {took:.1f} s"
    delivery = _reload(delivery)
    (attempt,) = delivery.attempts
    assert attempt.error == f"no answer within {LIMIT} s"
    assert attempt.status_code is None
    assert not attempt.succeeded
    assert LIMIT * 1000 <= attempt.duration_ms < (LIMIT + 1) * 1000
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == f"no answer within {LIMIT} s"
    assert delivery.next_attempt_at > utcnow()
    scheduled = ScheduledJobRegistry(queue=Queue("default", connection=redis_connection()))
    assert events.job_id(delivery.message_id, 1) in scheduled.get_job_ids()
    for _ in range(50):  # the receiver sees the connection go, at the limit
        if slow_receiver.cut_after is not None:
            break
        time.sleep(0.1)
    assert slow_receiver.cut_after is not None
    assert slow_receiver.cut_after < LIMIT + 1


def test_a_host_name_that_does_not_resolve_in_time_is_given_up_on(receiver, monkeypatch):
    endpoint = endpoint_for(receiver)
    endpoint.url = "http://slow-dns.example.com/hooks"
    delivery = services.ping(endpoint)
    db.session.commit()
    monkeypatch.setattr(outbound, "RESOLVE_SECONDS", 0.2)
    monkeypatch.setattr(outbound, "_getaddrinfo", lambda host, port: time.sleep(3))
    started = time.monotonic()

    run_jobs()

    assert time.monotonic() - started < 2
    delivery = _reload(delivery)
    (attempt,) = delivery.attempts
    assert attempt.error == (
        "refused: The host name 'slow-dns.example.com' did not resolve within 0.2 s."
    )
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at <= utcnow() + dt.timedelta(seconds=6)
    assert receiver.received == []
