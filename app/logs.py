"""Structured logs with a correlation id on every line of a request or a job."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from flask import Flask, Response, g, request

CORRELATION_HEADER = "X-Correlation-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def configure(fmt: str = "console", level: str = "INFO") -> None:
    """Route stdlib and structlog through one renderer (JSON in production)."""
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO on every command; only its warnings matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def correlation_id_from(headers) -> str:
    """Take the caller's X-Correlation-ID (or W3C traceparent trace id) or make one."""
    given = headers.get(CORRELATION_HEADER, "")
    if _SAFE_ID.match(given):
        return given
    trace = _TRACEPARENT.match(headers.get("traceparent", ""))
    return trace.group(1) if trace else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    if not app.testing:
        configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])

    @app.before_request
    def bind_correlation_id() -> None:
        g.correlation_id = correlation_id_from(request.headers)
        g.log_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=g.correlation_id)

    @app.after_request
    def echo_correlation_id(response: Response) -> Response:
        if "correlation_id" in g:
            response.headers[CORRELATION_HEADER] = g.correlation_id
            _log_request(response)
        return response


def _log_request(response: Response) -> None:
    """One line per answered request, with the correlation id its jobs and ERP calls carry."""
    log.info(
        "request",
        method=request.method,
        path=request.path,
        endpoint=request.endpoint,
        status=response.status_code,
        duration_ms=round((time.perf_counter() - g.log_started) * 1000, 1),
    )


log = structlog.get_logger("portal")
