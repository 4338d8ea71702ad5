"""What the authorization server reads from the configuration, with its defaults, in one place."""

from __future__ import annotations

import datetime as dt

from flask import current_app

DEFAULT_TOKEN_TTL = 900  # seconds: 15 minutes
DEFAULT_SECRET_TTL_DAYS = 365
# Clock skew allowed between this server and others when checking exp/iat of JWTs.
LEEWAY_SECONDS = 60
DEFAULT_CLIENT_CACHE_SECONDS = 30


def token_ttl() -> int:
    return int(current_app.config.get("ACCESS_TOKEN_TTL", DEFAULT_TOKEN_TTL))


def client_cache_seconds() -> float:
    """How long a process may answer the token check from its copy of a client and its
    organization while nothing changed them; 0 loads them on every call."""
    return float(current_app.config.get("OAUTH_CLIENT_CACHE_SECONDS", DEFAULT_CLIENT_CACHE_SECONDS))


def secret_ttl() -> dt.timedelta:
    days = int(current_app.config.get("CLIENT_SECRET_TTL_DAYS", DEFAULT_SECRET_TTL_DAYS))
    return dt.timedelta(days=days)


def issuer() -> str:
    """OAUTH_ISSUER; unset (development only: production refuses to start without it),
    PORTAL_URL. Never the request's URL: its Host header is whatever the caller sent, and a
    token minted with `Host: evil.example` must not say it was issued there."""
    configured = current_app.config.get("OAUTH_ISSUER")
    if not configured and current_app.config.get("ENV_NAME") != "production":
        configured = current_app.config.get("PORTAL_URL")
    if not configured:
        raise RuntimeError("OAUTH_ISSUER is not configured")
    return str(configured).rstrip("/")


def audience() -> str:
    """The `aud` of every access token: the portal's API as one resource server."""
    return current_app.config.get("OAUTH_AUDIENCE") or issuer() + "/api"


def https_required() -> bool:
    """Production speaks OAuth only over TLS (authlib's check); tests and `make run` use http."""
    return current_app.config.get("ENV_NAME") == "production"


def allow_plain_http_jwks_uri() -> bool:
    """Outside production a client's jwks_uri may be plain http (local test servers)."""
    return not https_required()
