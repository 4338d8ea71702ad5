"""The authorization server, assembled from authlib: client_credentials, three ways for a client
to authenticate, RFC 9068 tokens, introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

import datetime as dt

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    OAuth2Request,
    UnauthorizedClientError,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app
from flask import request as flask_request
from joserfc import jwt
from joserfc.errors import JoseError
from redis import RedisError
from sqlalchemy import select

from app.db import db, utcnow
from app.jobs import redis_connection
from app.oauth import client_keys, denylist, scopes, services, settings, tokens
from app.oauth.models import ApiClient, AuthMethod

AUTH_METHODS = [m.value for m in AuthMethod]
# Algorithms a client may sign its private_key_jwt assertion with.
ASSERTION_ALGS = ["RS256", "PS256", "ES256", "ES384", "ES512"]
# An assertion lives at most this long, which also bounds how long its jti is remembered.
MAX_ASSERTION_SECONDS = 3600
ASSERTION_JTI_PREFIX = "oauth:assertion-jti:"


def query_client(client_id: str) -> ApiClient | None:
    """Revoked clients do not exist for authentication."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    return client if client is not None and client.is_active else None


def save_token(token: dict, oauth_request) -> None:
    """JWTs are not stored; only the client's 'last token' time is kept (once a minute)."""
    services.touch_last_token(oauth_request.client)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if not self.request.client.organization.is_active:
            raise UnauthorizedClientError("The client's organization is not active.")


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 client authentication; each assertion is accepted once (its jti is kept in Redis
    for the assertion's lifetime)."""

    CLIENT_AUTH_METHOD = AuthMethod.PRIVATE_KEY_JWT.value

    def get_audiences(self) -> list[str]:
        """The issuer, its token endpoint, or the endpoint being called, all under the issuer's
        URL (never the Host header's, which the caller chooses)."""
        issuer = settings.issuer()
        return [issuer, issuer + "/oauth/token", issuer + flask_request.path]

    def resolve_client_public_key(self, client: ApiClient):
        return client_keys.resolver(client)

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except (JoseError, client_keys.ClientKeyError) as exc:
            raise InvalidClientError(description=_describe(exc)) from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict, jti: str) -> bool:
        seconds_left = int(claims["exp"]) - int(utcnow().timestamp()) + self.leeway
        if seconds_left > MAX_ASSERTION_SECONDS + self.leeway:
            raise InvalidClientError(
                description=f"The assertion may live at most {MAX_ASSERTION_SECONDS} seconds."
            )
        key = f"{ASSERTION_JTI_PREFIX}{claims['sub']}:{jti}"
        try:
            return bool(redis_connection().set(key, "1", nx=True, ex=max(1, seconds_left)))
        except RedisError as exc:
            raise InvalidClientError(description="The assertion cannot be checked now.") from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, client_keys.ClientKeyError):
        return str(exc)
    return getattr(exc, "description", None) or "The client assertion does not verify."


class _TokenEndpointMixin:
    """Introspection and revocation take the same client authentication as the token endpoint."""

    CLIENT_AUTH_METHODS = AUTH_METHODS


class Introspection(_TokenEndpointMixin, IntrospectionEndpoint):
    """RFC 7662: a client may introspect only its own tokens; others answer active=false."""

    def query_token(self, token_string: str, token_type_hint: str | None):
        try:
            return tokens.verify(token_string)
        except tokens.TokenRejectedError:
            return None
        except RedisError:
            # Without the deny-list the token might be revoked: say inactive, never active.
            current_app.logger.exception("token deny-list unavailable during introspection")
            return None

    def check_permission(self, token: tokens.VerifiedToken, client: ApiClient, request) -> bool:
        return token.client.id == client.id

    def create_introspection_payload(self, token: tokens.VerifiedToken | None) -> dict:
        if token is None:
            return {"active": False}
        claims = token.claims
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": scopes.as_string(token.scopes),
            "client_id": claims["client_id"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": claims["iss"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
        }


class RevocableToken:
    """A signature-checked access token as RFC 7009's endpoint wants it."""

    def __init__(self, claims: dict) -> None:
        self.claims = claims

    def check_client(self, client: ApiClient) -> bool:
        return self.claims.get("client_id") == client.client_id


class Revocation(_TokenEndpointMixin, RevocationEndpoint):
    """RFC 7009: the token's jti goes on the deny-list until the token expires."""

    def query_token(self, token_string: str, token_type_hint: str | None):
        try:
            claims = tokens.decode(token_string, check_claims=False)
        except tokens.TokenRejectedError:
            return None  # not ours or not readable: nothing to revoke, and 200 per RFC 7009
        return RevocableToken(dict(claims)) if "jti" in claims and "exp" in claims else None

    def revoke_token(self, token: RevocableToken, request) -> None:
        expires_at = dt.datetime.fromtimestamp(int(token.claims["exp"]), dt.UTC)
        denylist.deny(token.claims["jti"], request.client, expires_at)


class PortalAuthorizationServer(AuthorizationServer):
    def create_oauth2_request(self, request):
        if settings.https_required():
            return super().create_oauth2_request(request)
        return _PlainHttpRequest(flask_request)  # authlib passes None: it means Flask's request


class _PlainHttpRequest(FlaskOAuth2Request):
    """authlib refuses http:// URLs. Outside production (tests, `make run`) the portal is served
    over plain http, so there the request is checked as if it had come over TLS."""

    def __init__(self, request) -> None:
        as_if_tls = request.url.replace("http://", "https://", 1)
        OAuth2Request.__init__(self, method=request.method, uri=as_if_tls, headers=request.headers)
        self.uri = request.url
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


def build(app: Flask) -> AuthorizationServer:
    server = PortalAuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.scopes_supported = list(scopes.SCOPES)
    server.register_token_generator("default", tokens.PortalTokenGenerator())
    server.register_grant(ClientCredentialsGrant)
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT())
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server


def metadata() -> dict:
    """RFC 8414 authorization server metadata."""
    issuer = settings.issuer()
    return {
        "issuer": issuer,
        "token_endpoint": issuer + "/oauth/token",
        "jwks_uri": issuer + "/.well-known/jwks.json",
        "introspection_endpoint": issuer + "/oauth/introspect",
        "revocation_endpoint": issuer + "/oauth/revoke",
        "scopes_supported": list(scopes.SCOPES),
        # client_credentials only: there is no authorization endpoint, so no response types.
        "response_types_supported": [],
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "service_documentation": issuer + "/api/openapi.json",
    }
