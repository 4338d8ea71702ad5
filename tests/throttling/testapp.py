"""The real portal plus test-only endpoints that call the throttle hook the way the OAuth
token check does (`require_token` is built in parallel), with a duck-typed API client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app import create_app
from app.extensions import csrf
from app.throttling import charge_documents, limit_token_endpoint, too_many_requests

ECHO = "/api/test-throttle/echo"
DOCUMENTS = "/api/test-throttle/documents"
TOKEN = "/oauth/test-token"

bp = Blueprint("throttle_test", __name__)


@dataclass(frozen=True)
class FakeClient:
    """What an ApiClient offers throttling: numeric id, public client_id, organization."""

    id: int
    client_id: str
    organization_id: int


def client_headers(client: FakeClient) -> dict[str, str]:
    return {
        "X-Test-Client": str(client.id),
        "X-Test-Client-Name": client.client_id,
        "X-Test-Org": str(client.organization_id),
    }


def _client_from_headers() -> FakeClient:
    return FakeClient(
        id=int(request.headers["X-Test-Client"]),
        client_id=request.headers["X-Test-Client-Name"],
        organization_id=int(request.headers["X-Test-Org"]),
    )


def _authenticated() -> tuple[FakeClient, Response | None]:
    """What require_token does once the token is valid: hand the client to the hook."""
    client = _client_from_headers()
    answer = current_app.extensions["throttle_hook"](client)
    return client, answer if isinstance(answer, Response) else None


@bp.route(ECHO, methods=["GET", "POST"])
def echo():
    _, refused = _authenticated()
    if refused is not None:
        return refused
    return jsonify(ok=True, received=len(request.get_data()))


@bp.post(DOCUMENTS)
def documents():
    client, refused = _authenticated()
    if refused is not None:
        return refused
    decision = charge_documents(client, request.args.get("count", 1, type=int))
    if not decision.allowed:
        return too_many_requests(decision)
    return jsonify(accepted=True), 202


@bp.post(TOKEN)
def token():
    refused = limit_token_endpoint(request.form.get("client_id"), request.remote_addr or "")
    return refused or jsonify(access_token="not-a-real-token")


def build_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = create_app("testing", {"ERP_URL": "http://127.0.0.1:9", **(overrides or {})})
    csrf.exempt(bp)  # token-authenticated like the real API, so no CSRF token
    app.register_blueprint(bp)
    return app
