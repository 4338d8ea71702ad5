"""The one builder of application/problem+json answers (RFC 9457)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, g, json

PROBLEM_TYPE_BASE = "https://supplier-portal.example/problems/"


def problem(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a problem+json response; `type_` is a short slug such as 'invalid-request'."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_ if type_ else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    if g and "correlation_id" in g:
        body["correlation_id"] = g.correlation_id
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response
