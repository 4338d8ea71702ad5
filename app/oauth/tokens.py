"""Access tokens: RFC 9068 JWTs made by authlib's generator and checked by authlib's validator,
plus what a JWT cannot say by itself (revoked token, revoked client, suspended organization)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterable

from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from joserfc import jws
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey
from sqlalchemy import select

from app.db import db
from app.oauth import denylist, keys, settings
from app.oauth import scopes as api_scopes
from app.oauth.models import GRANT_TYPE, ApiClient

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")


class TokenRejectedError(Exception):
    """The token cannot be used; `reason` is written for the caller holding the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PortalTokenGenerator(JWTBearerTokenGenerator):
    """authlib's RFC 9068 generator, signing with the current key of keys.py."""

    def __init__(self) -> None:
        super().__init__(
            issuer=None,
            alg=keys.SIGNING_ALG,
            expires_generator=lambda client, grant_type: settings.token_ttl(),
        )

    def get_jwks(self):
        return keys.signing_keyset()

    def get_audiences(self, client, user, scope) -> str:
        return settings.audience()

    def get_jti(self, client, grant_type, user, scope) -> str:
        return secrets.token_urlsafe(16)

    def get_extra_claims(self, client, grant_type, user, scope) -> dict:
        # The issuer may come from the request's URL (development), so it is read per token
        # rather than fixed when the generator is made.
        return {"iss": settings.issuer()}


def issue_access_token(api_client: ApiClient, scopes: Iterable[str] = ()) -> str:
    """A signed access token for `api_client`, as the token endpoint would issue it.
    Asking for no scopes means every scope the client is allowed."""
    wanted = list(scopes)
    scope = api_client.get_allowed_scope(api_scopes.as_string(wanted))
    if scope is None:
        raise ValueError(f"scopes {wanted} are not all allowed for {api_client.client_id}")
    return PortalTokenGenerator().access_token_generator(
        client=api_client, grant_type=GRANT_TYPE, user=None, scope=scope
    )


@dataclasses.dataclass(frozen=True)
class VerifiedToken:
    claims: dict
    client: ApiClient

    @property
    def scopes(self) -> list[str]:
        """What the token may do now: its scopes still allowed for its client."""
        granted = api_scopes.parse(self.claims.get("scope"))
        return api_scopes.effective(granted, self.client.allowed_scopes)

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.claims["exp"], dt.UTC)


class _Validator(JWTBearerTokenValidator):
    """authlib's RFC 9068 checks (iss, aud, exp, sub, client_id, iat, jti) with one known key."""

    def __init__(self, key: ECKey) -> None:
        super().__init__(issuer=settings.issuer(), resource_server=settings.audience())
        self._key = key

    def get_jwks(self):
        return self._key


def verify(token: str) -> VerifiedToken:
    """Everything a resource check needs: signature, claims, deny-list, client and organization.
    Raises TokenRejectedError; redis.RedisError when the deny-list cannot be read."""
    claims = decode(token)
    if denylist.is_denied(claims["jti"]):
        raise TokenRejectedError("The token was revoked.")
    client = _active_client(claims["client_id"])
    if claims["sub"] != client.client_id:
        raise TokenRejectedError("The token's subject is not its client.")
    return VerifiedToken(dict(claims), client)


def decode(token: str, *, check_claims: bool = True) -> JWTAccessTokenClaims:
    """Verify the signature with a published key and, unless told not to, the RFC 9068 claims."""
    header = _header(token)
    if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
        raise TokenRejectedError("The token is not an access token (typ must be at+jwt).")
    if header.get("alg") != keys.SIGNING_ALG:
        raise TokenRejectedError(f"The token must be signed with {keys.SIGNING_ALG}.")
    key = keys.verification_key(header.get("kid"))
    if key is None:
        raise TokenRejectedError("The token was signed by an unknown key.")
    validator = _Validator(key)
    try:
        claims = validator.authenticate_token(token)
        if check_claims:
            validator.validate_token(claims, scopes=None, request=None)
    except InvalidTokenError as exc:
        raise TokenRejectedError(_reason(exc.__cause__)) from exc
    return claims


def _header(token: str) -> dict:
    try:
        return jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenRejectedError("The token is not a well-formed JWT.") from exc


def _reason(cause: BaseException | None) -> str:
    if isinstance(cause, ExpiredTokenError):
        return "The token has expired."
    if isinstance(cause, MissingClaimError):
        return "The token lacks a required claim."
    if isinstance(cause, InvalidClaimError):
        return f"The token's {cause.claim} claim is not valid for this API."
    if isinstance(cause, JoseError) and cause.error == "bad_signature":
        return "The token's signature does not verify."
    return "The token is invalid."


def _active_client(client_id: str) -> ApiClient:
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.is_active:
        raise TokenRejectedError("The token's client was revoked.")
    if not client.organization.is_active:
        raise TokenRejectedError("The client's organization is not active.")
    return client
