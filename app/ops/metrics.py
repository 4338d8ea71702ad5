"""Every Prometheus metric of the portal, in one module, and the `/metrics` exposition.

Counters and histograms are written where things happen (a request answered, a document
leaving a state, an ERP call, a throttled call) through hooks and signals, so the packages that
do the work import nothing from here. Gauges that describe the present (documents by state,
queue depths) are computed when Prometheus scrapes, from PostgreSQL and Redis, never kept in a
process: adding one is one `ScrapedGauge(...)` line in SCRAPED.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory, before
the processes start) for web and RQ workers alike: each process then writes its samples there
and any web worker answering the scrape adds them all up, jobs' ERP calls, webhook deliveries
and stage times included (`gunicorn.conf.py` and `app/workers.py` forget a process's live
gauges when it exits). The portal keeps no live gauge in a process: what describes the present
is read at scrape (below), so no multiprocess_mode has to be chosen; a Gauge added here would
need one ("livesum", "mostrecent"...), or the scrape would list one sample per pid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentState
from app.erp.client import ErpCall, erp_called
from app.ops import queues
from app.pipeline import Transitioned, document_transitioned
from app.posting import breaker
from app.webhooks.events import delivery_finished

# -- counted where it happens ------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask endpoint.",
    ["endpoint"],
)
STAGE_SECONDS = Histogram(
    "portal_document_stage_seconds",
    "Time a document spent in a state, observed when it leaves the state.",
    ["state"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600),
)
ERP_CALLS = Counter(
    "portal_erp_calls",
    "HTTP calls to the ERP, by method, endpoint template and status (none: no answer).",
    ["method", "endpoint", "status"],
)
ERP_ERRORS = Counter(
    "portal_erp_errors",
    "ERP calls that failed: a transport error's name, or http_4xx / http_5xx.",
    ["endpoint", "error"],
)
ERP_SECONDS = Histogram(
    "portal_erp_call_duration_seconds", "Time an ERP call took, by endpoint.", ["endpoint"]
)
THROTTLED = Counter(
    "portal_throttled_calls",
    "API and token calls refused with 429 by throttling, by the policy that refused them.",
    ["policy"],
)
WEBHOOK_DELIVERIES = Counter(
    "portal_webhook_deliveries",
    "Webhook delivery attempts by event type and outcome (delivered, retrying, failed),"
    " counted when the attempt's unit of work commits.",
    ["event_type", "outcome"],
)


# -- computed at scrape ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScrapedGauge:
    """A gauge read from the system of record when scraped: `read` answers labels → value."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[], Mapping[tuple[str, ...], float]]


def documents_by_state() -> dict[tuple[str, ...], float]:
    rows = db.session.execute(
        select(Document.kind, Document.state, func.count()).group_by(Document.kind, Document.state)
    )
    return {(kind.value, state.value): float(count) for kind, state, count in rows}


def queue_depths() -> dict[tuple[str, ...], float]:
    depths: dict[tuple[str, ...], float] = {}
    for q in queues.snapshot().queues:
        for registry in ("queued", "started", "scheduled", "deferred", "failed"):
            depths[q.name, registry] = getattr(q, registry)
    return depths


def workers_alive() -> dict[tuple[str, ...], float]:
    snapshot = queues.snapshot()
    return {(): len(snapshot.workers)} if snapshot.available else {}


def redis_up() -> dict[tuple[str, ...], float]:
    return {(): 1.0 if queues.snapshot().available else 0.0}


def breaker_states() -> dict[tuple[str, ...], float]:
    """1 for the state each ERP endpoint's breaker is in, 0 for the others; scope is "local"
    when Redis cannot be reached and this process's own breaker answers."""
    states: dict[tuple[str, ...], float] = {}
    for endpoint, shown in breaker.current_states().items():
        state, _, local = shown.partition(" ")
        scope = "local" if local else "shared"
        for name in (breaker.CLOSED, breaker.OPEN, breaker.HALF_OPEN):
            states[endpoint, name, scope] = 1.0 if name == state else 0.0
    return states


SCRAPED: tuple[ScrapedGauge, ...] = (
    ScrapedGauge("portal_documents", "Documents now.", ("kind", "state"), documents_by_state),
    ScrapedGauge("portal_queue_jobs", "RQ jobs.", ("queue", "registry"), queue_depths),
    ScrapedGauge("portal_workers_alive", "RQ workers registered in Redis.", (), workers_alive),
    ScrapedGauge("portal_redis_up", "1 when Redis answered the scrape.", (), redis_up),
    ScrapedGauge(
        "portal_erp_breaker_state",
        "The ERP circuit breaker per endpoint: 1 for its state now.",
        ("endpoint", "state", "scope"),
        breaker_states,
    ),
)


class _Scraped(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        queues.snapshot.cache_clear()  # one Redis read per scrape, shared by the gauges
        for gauge in SCRAPED:
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
            for labels, value in gauge.read().items():
                family.add_metric(list(labels), value)
            yield family


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> Response:
    """The Prometheus text: every process's samples (multiprocess mode) or this one's, and
    the gauges read now."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Scraped())
    if multiprocess_dir():
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    body = generate_latest(counted) + generate_latest(scraped)
    return Response(
        body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], content_type=CONTENT_TYPE_LATEST
    )


# -- the hooks ---------------------------------------------------------------------------------


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
    HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    if "metrics_started" in g:
        HTTP_SECONDS.labels(endpoint).observe(time.perf_counter() - g.metrics_started)
    if response.status_code == 429:
        _count_throttled()
    return response


def _count_throttled() -> None:
    for name in ("throttle_request", "throttle_documents"):
        decision: Any = g.get(name)
        if decision is not None and not decision.allowed:
            THROTTLED.labels(decision.binding.policy).inc()
            return


def _count_erp_call(call: ErpCall) -> None:
    status = str(call.status) if call.status is not None else "none"
    ERP_CALLS.labels(call.method, call.endpoint, status).inc()
    ERP_SECONDS.labels(call.endpoint).observe(call.seconds)
    if call.error or (call.status is not None and call.status >= 400):
        ERP_ERRORS.labels(call.endpoint, call.error or f"http_{call.status // 100}xx").inc()  # type: ignore[operator]


def _time_in_state(change: Transitioned) -> None:
    """Remember how long the document stayed in the state it leaves; observed on commit."""
    if change.from_state is None:
        return
    entered = db.session.scalar(
        select(func.max(DocumentEvent.at)).where(
            DocumentEvent.document_id == change.document_id,
            DocumentEvent.to_state == DocumentState(change.from_state),
        )
    )
    if entered is not None:
        seconds = time.time() - entered.timestamp()
        db.session().info.setdefault("stage_seconds", []).append((change.from_state, seconds))


def _webhook_attempt(event_type: str, outcome: str, **_: Any) -> None:
    """Remember an attempt's outcome; counted on commit, like the attempt's log row."""
    db.session().info.setdefault("webhook_outcomes", []).append((event_type, outcome))


def _observe_stage_seconds(session: Session) -> None:
    for state, seconds in session.info.pop("stage_seconds", []):
        STAGE_SECONDS.labels(state).observe(max(seconds, 0.0))
    for event_type, outcome in session.info.pop("webhook_outcomes", []):
        WEBHOOK_DELIVERIES.labels(event_type, outcome).inc()


def _drop_stage_seconds(session: Session, previous: Any) -> None:
    session.info.pop("stage_seconds", None)
    session.info.pop("webhook_outcomes", None)


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_count_request)
    erp_called.connect(_count_erp_call)
    document_transitioned.connect(_time_in_state)
    delivery_finished.connect(_webhook_attempt)
    if not event.contains(Session, "after_commit", _observe_stage_seconds):
        event.listen(Session, "after_commit", _observe_stage_seconds)
        event.listen(Session, "after_soft_rollback", _drop_stage_seconds)
