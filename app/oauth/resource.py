"""The resource side of OAuth: the one decorator that protects API views, and for whom the
calling client may act. Errors follow RFC 6750 with problem+json bodies.

    @bp.post("/api/v1/invoices")
    @require_token("invoices:write")
    def send_invoice():
        supplier = resolve_supplier(ConnectionScope.INVOICES, on_behalf_of_header())
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response, current_app, g, request
from werkzeug.exceptions import BadRequest, Forbidden

from app import routing
from app.db import db
from app.oauth import client_cache, scopes, services, tokens
from app.oauth.models import ApiClient
from app.orgs import scope
from app.orgs.models import ConnectionScope, Organization, OrgKind
from app.problems import problem

REALM = "supplier-portal"
ON_BEHALF_OF = "On-Behalf-Of"


class ApiForbidden(Forbidden):
    """The client may not act here; answered as a 403 problem+json."""

    def __init__(self, detail: str) -> None:
        super().__init__(description=detail)
        self.detail = detail


def require_token(*required_scopes: str) -> Callable:
    """A valid access token holding every scope in `required_scopes`; sets g.api_client,
    g.api_claims (the token's claims) and g.api_scopes (what the token may do now)."""
    if bad := scopes.unknown(required_scopes):
        raise ValueError(f"unknown scopes {bad}; known: {scopes.SCOPES}")

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            refusal = _authenticate()
            if refusal is None:
                refusal = _throttle(g.api_client)
            if refusal is None and not set(required_scopes) <= set(g.api_scopes):
                refusal = _insufficient_scope(required_scopes)
            return refusal if refusal is not None else view(*args, **kwargs)

        wrapper.required_scopes = frozenset(required_scopes)  # type: ignore[attr-defined]
        return wrapper

    return decorator


def current_client() -> ApiClient:
    """The client whose token authorized this request (inside a @require_token view)."""
    client = g.get("api_client")
    if client is None:
        raise RuntimeError("current_client() is only available inside a @require_token view")
    return client


def _authenticate() -> Response | None:
    token = _bearer_token()
    if token is None:
        return _unauthorized(None, "Send an access token: Authorization: Bearer <token>.")
    try:
        verified = tokens.verify(token)
    except tokens.TokenRejectedError as exc:
        return _unauthorized("invalid_token", exc.reason)
    g.api_client, g.api_claims, g.api_scopes = verified.client, verified.claims, verified.scopes
    _note_use(verified.client)
    return None


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _note_use(client: ApiClient) -> None:
    """The client's 'last API call' time, written in its own small unit of work at most once
    a minute, so most calls write nothing. The client may come from this process's snapshot,
    whose time can be older than the row's (another process wrote it since): the row's time is
    read before writing, and the snapshot learns the time either way."""
    if not services.touch_due(client.last_used_at):
        return
    client_id = client.client_id
    db.session.refresh(client, ["last_used_at"])
    used_at = client.last_used_at
    if services.touch_due(used_at):
        services.touch_last_used(client)
        used_at = client.last_used_at  # read before the commit expires it
    client_cache.note_used(client_id, used_at)


def _throttle(client: ApiClient) -> Response | None:
    """The throttling package registers a hook; its response (a 429) is returned as is."""
    hook = current_app.extensions.get("throttle_hook")
    return hook(client) if hook is not None else None


def _challenge(error: str | None, **params: str) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    parts += [f'{name}="{_quote_safe(value)}"' for name, value in params.items()]
    return "Bearer " + ", ".join(parts)


def _quote_safe(value: str) -> str:
    return value.replace("\\", "").replace('"', "'")


def _unauthorized(error: str | None, detail: str) -> Response:
    """401; without any token the challenge carries no error code (RFC 6750 §3.1)."""
    params = {"error_description": detail} if error else {}
    return problem(
        401,
        detail,
        type_="invalid-token" if error else "token-required",
        headers={"WWW-Authenticate": _challenge(error, **params)},
    )


def _insufficient_scope(required: tuple[str, ...]) -> Response:
    needed = scopes.as_string(required)
    return problem(
        403,
        f"This call needs the scope(s) {needed}; the token has: "
        f"{scopes.as_string(g.api_scopes) or 'none'}.",
        type_="insufficient-scope",
        headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=needed)},
        required_scopes=list(required),
    )


def on_behalf_of_header() -> int | None:
    """The portal organization id in the On-Behalf-Of header, if any."""
    value = request.headers.get(ON_BEHALF_OF, "").strip()
    if not value:
        return None
    organization_id = routing.parse_id(value)
    if organization_id is None:
        raise BadRequest(
            f"{ON_BEHALF_OF} must be a portal organization id "
            f"(a whole number from {routing.MIN_ID} to {routing.MAX_ID})."
        )
    return organization_id


def resolve_supplier(document_type: ConnectionScope, on_behalf_of: int | None) -> Organization:
    """The supplier this call acts for. A supplier's client acts only for its own organization;
    a partner's client must name a supplier connected to it for `document_type`. Anything else
    raises ApiForbidden, the same way whether the id is unknown or belongs to someone else."""
    org = current_client().organization
    if org.kind is OrgKind.SUPPLIER:
        if on_behalf_of not in (None, org.id):
            raise ApiForbidden("A supplier's client acts only for its own organization.")
        return org
    if org.kind is OrgKind.PARTNER:
        return _connected_supplier(org, document_type, on_behalf_of)
    raise ApiForbidden("Only supplier and partner clients act for suppliers.")


def _connected_supplier(
    partner: Organization, document_type: ConnectionScope, supplier_id: int | None
) -> Organization:
    if supplier_id is None:
        raise ApiForbidden(
            f"Name the supplier you act for in the {ON_BEHALF_OF} header (its portal id)."
        )
    connection = scope.connection_between(partner.id, supplier_id)
    if (
        connection is None
        or not connection.allows(document_type)
        or not connection.supplier.is_active
    ):
        raise ApiForbidden(
            f"You are not connected to an active supplier {supplier_id} for {document_type.value}."
        )
    return connection.supplier
