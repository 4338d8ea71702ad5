"""API client use cases: create, rotate and expire secrets, revoke; they flush, never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from app.audit.services import record
from app.db import db, utcnow
from app.oauth import client_keys, credentials
from app.oauth import scopes as api_scopes
from app.oauth.models import ApiClient, AuthMethod, ClientSecret
from app.oauth.settings import secret_ttl
from app.orgs.models import Organization, OrgKind

MAX_LIVE_SECRETS = 2
# last_token_at / last_used_at are written at most this often per client.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


class ClientError(ValueError):
    """The request cannot be done; the message is written for the admin."""


def create_client(
    organization: Organization,
    name: str,
    scopes: Iterable[str],
    auth_method: str | AuthMethod = AuthMethod.CLIENT_SECRET_BASIC,
    *,
    jwks: dict | None = None,
    jwks_uri: str | None = None,
    actor: Any = None,
    actor_label: str | None = None,
) -> tuple[ApiClient, str | None]:
    """A new client of `organization`; returns it and its secret (None for private_key_jwt),
    which is shown once and stored only as a hash."""
    method = _auth_method(auth_method)
    granted = _check_scopes(organization, scopes)
    _check_organization(organization)
    client = ApiClient(
        client_id=credentials.new_client_id(),
        name=_check_name(name),
        organization=organization,
        auth_method=method,
        scopes=granted,
        created_by_id=getattr(actor, "id", None),
    )
    _set_keys(client, method, jwks, jwks_uri)
    db.session.add(client)
    secret = _add_secret(client) if method.uses_secret else None
    db.session.flush()
    record(
        "oauth.client.created",
        actor=actor,
        actor_label=actor_label,
        organization_id=organization.id,
        target=client,
        details={
            "client_id": client.client_id,
            "name": client.name,
            "auth_method": method.value,
            "scopes": granted,
        },
    )
    return client, secret


def _auth_method(value: str | AuthMethod) -> AuthMethod:
    try:
        return AuthMethod(value)
    except ValueError:
        choices = ", ".join(m.value for m in AuthMethod)
        raise ClientError(f"auth method must be one of {choices}") from None


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ClientError("give the client a name of 1 to 100 characters")
    return name


def _check_scopes(organization: Organization, requested: Iterable[str]) -> list[str]:
    wanted = api_scopes.canonical(requested)
    if not wanted:
        raise ClientError("choose at least one scope")
    if bad := api_scopes.unknown(wanted):
        raise ClientError(f"unknown scopes: {', '.join(bad)}")
    if missing := sorted(set(wanted) - set(organization.approved_scopes or [])):
        raise ClientError(
            f"{organization.name} is not approved for: {', '.join(missing)}"
            " (a procurement admin approves scopes)"
        )
    return wanted


def _check_organization(organization: Organization) -> None:
    if organization.kind not in (OrgKind.SUPPLIER, OrgKind.PARTNER):
        raise ClientError("only supplier and partner organizations have API clients")
    if not organization.is_active:
        raise ClientError(
            f"{organization.name} is {organization.status.value.lower()}; "
            "only active organizations get API clients"
        )


def _set_keys(
    client: ApiClient, method: AuthMethod, jwks: dict | None, jwks_uri: str | None
) -> None:
    if method is not AuthMethod.PRIVATE_KEY_JWT:
        if jwks or jwks_uri:
            raise ClientError("a JWKS or jwks_uri is only used with private_key_jwt")
        return
    if bool(jwks) == bool(jwks_uri):
        raise ClientError("private_key_jwt needs either a JWKS or a jwks_uri (one of them)")
    try:
        if jwks:
            client_keys.parse_jwks(jwks)
            client.jwks = jwks
        else:
            client.jwks_uri = client_keys.check_jwks_uri(jwks_uri or "")
    except client_keys.ClientKeyError as exc:
        raise ClientError(str(exc)) from None


def _add_secret(client: ApiClient) -> str:
    secret = credentials.new_secret()
    client.secrets.append(
        ClientSecret(
            secret_hash=credentials.hash_secret(secret),
            hint=credentials.hint(secret),
            created_at=utcnow(),
            expires_at=utcnow() + secret_ttl(),
        )
    )
    return secret


def rotate_secret(client: ApiClient, old_secret_lifetime: dt.timedelta, actor: Any = None) -> str:
    """Add a new secret; the live one keeps working for `old_secret_lifetime` (never longer
    than it would have), so the new one can be deployed before the old one dies."""
    _lock(client)
    _check_manageable(client, secret_needed=True)
    now = utcnow()
    live = client.live_secrets(now)
    if len(live) >= MAX_LIVE_SECRETS:
        raise ClientError(
            "this client already has two live secrets; expire the older one before rotating"
        )
    for old in live:
        old.expires_at = min(old.expires_at, now + old_secret_lifetime)
    secret = _add_secret(client)
    db.session.flush()
    record(
        "oauth.client.secret_rotated",
        actor=actor,
        organization_id=client.organization_id,
        target=client,
        details={
            "client_id": client.client_id,
            "previous_expiry": [s.expires_at.isoformat() for s in live],
        },
    )
    return secret


def _lock(client: ApiClient) -> None:
    """Row lock, then fresh secrets: two admins rotating at once must not make three live ones."""
    db.session.execute(select(ApiClient.id).where(ApiClient.id == client.id).with_for_update())
    db.session.expire(client, ["secrets", "revoked_at"])


def expire_secret(client: ApiClient, secret: ClientSecret, actor: Any = None) -> None:
    """End one secret now (it was leaked, or the new one is deployed everywhere)."""
    _check_manageable(client, secret_needed=True)
    if secret.client is not client:
        raise ClientError("that secret does not belong to this client")
    secret.expires_at = min(secret.expires_at, utcnow())
    db.session.flush()
    record(
        "oauth.client.secret_expired",
        actor=actor,
        organization_id=client.organization_id,
        target=client,
        details={"client_id": client.client_id, "hint": secret.hint},
    )


def _check_manageable(client: ApiClient, *, secret_needed: bool = False) -> None:
    if not client.is_active:
        raise ClientError("this client was revoked")
    if secret_needed and not client.auth_method.uses_secret:
        raise ClientError("this client authenticates with private_key_jwt and has no secret")


def revoke_client(client: ApiClient, actor: Any = None, actor_label: str | None = None) -> None:
    """Revoke for good: no new tokens, and every token it holds is refused at once."""
    if not client.is_active:
        return
    now = utcnow()
    client.revoked_at = now
    for secret in client.live_secrets(now):
        secret.expires_at = now
    db.session.flush()
    record(
        "oauth.client.revoked",
        actor=actor,
        actor_label=actor_label,
        organization_id=client.organization_id,
        target=client,
        details={"client_id": client.client_id, "name": client.name},
    )


def touch_due(last: dt.datetime | None) -> bool:
    """Whether a last-token / last-call time is old enough to be written again."""
    return last is None or utcnow() - last >= TOUCH_INTERVAL


def touch_last_token(client: ApiClient) -> None:
    if touch_due(client.last_token_at):
        client.last_token_at = utcnow()


def touch_last_used(client: ApiClient) -> None:
    client.last_used_at = utcnow()
