"""The machine endpoints: token, introspection, revocation, discovery, JWKS and GET /api/v1/me.
They take form posts from programs, not browsers, so CSRF does not apply to this blueprint."""

from __future__ import annotations

from collections.abc import Callable

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InsecureTransportError
from flask import Blueprint, Response, current_app, g, jsonify, request

from app.db import refusable
from app.extensions import csrf
from app.oauth import keys, server
from app.oauth.resource import (
    ApiForbidden,
    current_client,
    on_behalf_of_header,
    require_token,
    resolve_supplier,
)
from app.orgs import scope
from app.orgs.models import ConnectionScope, Organization, OrgKind

bp = Blueprint("oauth", __name__)
csrf.exempt(bp)


@bp.record_once
def _build_server(state) -> None:
    state.app.extensions["oauth_server"] = server.build(state.app)


def _server() -> AuthorizationServer:
    return current_app.extensions["oauth_server"]


def _answer(handle: Callable[[AuthorizationServer], Response]) -> Response:
    """Run one authlib endpoint in one unit of work; plain http in production is refused."""
    oauth = _server()
    try:
        with refusable():
            return handle(oauth)
    except InsecureTransportError as error:
        return oauth.handle_error_response(None, error)


def _claimed_client_id() -> str | None:
    """The client id the caller names (not yet authenticated), to count it before any work."""
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.username
    return request.form.get("client_id")


def _limit_token_endpoint() -> Response | None:
    """The throttling package registers the limit, as it does `throttle_hook` (it builds on
    OAuth clients, so OAuth does not import it); its response (a 429) is returned as is."""
    limit = current_app.extensions.get("token_endpoint_limit")
    return limit(_claimed_client_id(), request.remote_addr or "") if limit is not None else None


@bp.post("/oauth/token")
def token():
    # Counted per IP and per named client before a secret is checked or a key is used.
    if (refused := _limit_token_endpoint()) is not None:
        return refused
    return _answer(lambda oauth: oauth.create_token_response())


@bp.post("/oauth/introspect")
def introspect():
    return _answer(lambda oauth: oauth.create_endpoint_response("introspection"))


@bp.post("/oauth/revoke")
def revoke():
    return _answer(lambda oauth: oauth.create_endpoint_response("revocation"))


@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    return jsonify(server.metadata())


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(keys.jwks())
    # Short, so a verifier that caches it sees a rotation's new key soon; it should also
    # fetch again whenever it meets an unknown kid.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/api/v1/me")
@require_token()
def me():
    """Who the token belongs to, what it may do, and for partners the connected suppliers.
    With an On-Behalf-Of header: what the client may send for that supplier (403 if nothing)."""
    client = current_client()
    org = client.organization
    body = {
        "client": {"client_id": client.client_id, "name": client.name},
        "organization": {"id": org.id, "name": org.name, "kind": org.kind.value},
        "scopes": list(g.api_scopes),
        "token_expires_at": int(g.api_claims["exp"]),
    }
    if org.kind is OrgKind.PARTNER:
        body["connected_suppliers"] = _connected_suppliers(org)
    on_behalf_of = on_behalf_of_header()
    if on_behalf_of is not None:
        body["acting_for"] = _acting_for(on_behalf_of)
    return jsonify(body)


def _connected_suppliers(partner: Organization) -> list[dict]:
    return [
        {"id": c.supplier.id, "name": c.supplier.name, "document_types": sorted(c.document_types)}
        for c in scope.acting_for(partner.id)
    ]


def _acting_for(on_behalf_of: int) -> dict:
    """The document types resolve_supplier allows for this supplier; 403 when there are none."""
    allowed: list[str] = []
    supplier: Organization | None = None
    refusal: ApiForbidden | None = None
    for document_type in ConnectionScope:
        try:
            supplier = resolve_supplier(document_type, on_behalf_of)
        except ApiForbidden as exc:
            refusal = exc
            continue
        allowed.append(document_type.value)
    if supplier is None:
        raise refusal or ApiForbidden("You may not act for that organization.")
    return {"id": supplier.id, "name": supplier.name, "document_types": allowed}
