"""/api/v1/webhooks: the partner API's view of webhook endpoints (scope webhooks:manage), thin
views over app.webhooks.services, every one scoped to the calling client's organization."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from app.api.errors import BadParameterError
from app.extensions import csrf
from app.oauth.resource import current_client, require_token
from app.problems import problem
from app.webhooks import services
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1/webhooks")
csrf.exempt(bp)  # bearer tokens, not cookies

SCOPE = "webhooks:manage"
MAX_DELIVERIES = 100
PATCHABLE = frozenset({"url", "event_types", "description", "enabled"})


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def endpoint_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": _time(endpoint.created_at),
        "previous_secret_expires_at": _time(endpoint.previous_secret_expires_at),
        "href": url_for("webhooks_api.get_webhook", endpoint_id=endpoint.id),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": _time(attempt.at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
    }


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "event_type": delivery.event_type,
        "document_id": delivery.document_id,
        "status": delivery.status.value,
        "created_at": _time(delivery.created_at),
        "next_attempt_at": _time(delivery.next_attempt_at),
        "attempts": [attempt_json(a) for a in delivery.attempts],
    }


def _actor() -> dict[str, Any]:
    return {"actor_label": f"api client {current_client().client_id}"}


def _own(endpoint_id: int) -> WebhookEndpoint | Response:
    endpoint = services.own_endpoint(current_client().organization_id, endpoint_id)
    if endpoint is None:
        return problem(404, f"There is no webhook endpoint {endpoint_id}.", type_="not-found")
    return endpoint


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadParameterError("body", "The body must be a JSON object.")
    return body


def _string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadParameterError(name, f"{name} must be a string.")
    return value


def _event_types(body: dict[str, Any], *, required: bool = False) -> list[str] | None:
    value = body.get("event_types")
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadParameterError("event_types", "event_types must be a list of event type names.")
    return value


@bp.get("")
@require_token(SCOPE)
def list_webhooks() -> Response:
    endpoints = services.endpoints_of(current_client().organization_id)
    return jsonify({"data": [endpoint_json(e) for e in endpoints]})


@bp.post("")
@require_token(SCOPE)
def create_webhook() -> Response:
    body = _body()
    endpoint, secret = services.create_endpoint(
        current_client().organization,
        _string(body, "url", required=True) or "",
        _event_types(body, required=True) or [],
        description=_string(body, "description") or "",
        **_actor(),
    )
    response = jsonify(endpoint_json(endpoint, secret))
    response.status_code = 201
    response.headers["Location"] = url_for("webhooks_api.get_webhook", endpoint_id=endpoint.id)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:endpoint_id>")
@require_token(SCOPE)
def get_webhook(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    return jsonify(endpoint_json(endpoint))


@bp.patch("/<int:endpoint_id>")
@require_token(SCOPE)
def patch_webhook(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    body = _body()
    if unknown := sorted(set(body) - PATCHABLE):
        raise BadParameterError(unknown[0], f"{unknown[0]} cannot be changed.")
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise BadParameterError("enabled", "enabled must be true or false.")
    services.update_endpoint(
        endpoint,
        url=_string(body, "url"),
        event_types=_event_types(body),
        description=_string(body, "description"),
        **_actor(),
    )
    if enabled is not None:
        services.set_enabled(endpoint, enabled, **_actor())
    return jsonify(endpoint_json(endpoint))


@bp.delete("/<int:endpoint_id>")
@require_token(SCOPE)
def delete_webhook(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    services.delete_endpoint(endpoint, **_actor())
    return Response(status=204)


@bp.post("/<int:endpoint_id>/rotate-secret")
@require_token(SCOPE)
def rotate_webhook_secret(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    secret = services.rotate_secret(endpoint, **_actor())
    response = jsonify(endpoint_json(endpoint, secret))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:endpoint_id>/ping")
@require_token(SCOPE)
def ping_webhook(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    delivery = services.ping(endpoint, **_actor())
    response = jsonify(delivery_json(delivery))
    response.status_code = 202
    return response


@bp.get("/<int:endpoint_id>/deliveries")
@require_token(SCOPE)
def list_webhook_deliveries(endpoint_id: int) -> Response:
    endpoint = _own(endpoint_id)
    if isinstance(endpoint, Response):
        return endpoint
    raw = request.args.get("limit", "50")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not (
        1 <= int(raw) <= MAX_DELIVERIES
    ):
        raise BadParameterError("limit", f"limit must be between 1 and {MAX_DELIVERIES}")
    deliveries = services.deliveries_of(endpoint, int(raw))
    return jsonify({"data": [delivery_json(d) for d in deliveries]})
