"""Access tokens: RFC 9068 JWTs made by authlib's generator and checked by authlib's validator,
plus what a JWT cannot say by itself (revoked token, revoked client, suspended organization)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Iterable

import structlog
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from flask import current_app, g
from joserfc import jws
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import ECKey
from redis.exceptions import RedisError
from sqlalchemy import select

from app.db import db
from app.oauth import client_cache, denylist, keys, settings
from app.oauth import scopes as api_scopes
from app.oauth.lru import LruCache
from app.oauth.models import GRANT_TYPE, ApiClient

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
VERIFIED_CLAIMS_EXTENSION = "oauth_verified_claims"
VERIFIED_CLAIMS_MAX_ENTRIES = 4096
log = structlog.get_logger(__name__)


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
    What cannot change is kept per process (a token's verified claims, a snapshot of its client);
    expiry, the signing key, the deny-list and the client's state are checked on every call.
    Raises TokenRejectedError. Without Redis the deny-list's database copy answers and the client
    is loaded rather than taken from a snapshot (no epoch to tell whether it is current)."""
    cache_key = (token, settings.issuer(), settings.audience())
    remembered = _remembered(cache_key)
    signed = remembered or _decoded(token)
    claims = signed.claims
    epoch = _epoch_unless_revoked(claims["jti"])
    # Other per-process copies keyed by the same epoch read it here (webhook subscriptions).
    g.shared_epoch = epoch
    client = _client(claims["client_id"], epoch)
    if claims["sub"] != client.client_id:
        raise TokenRejectedError("The token's subject is not its client.")
    if remembered is None:
        _verified_claims().put(cache_key, signed)
    return VerifiedToken(dict(claims), client)


@dataclasses.dataclass(frozen=True)
class _SignedClaims:
    """Claims decode() accepted, and the kid of the key that signed them."""

    claims: dict
    kid: str

    def still_hold(self) -> bool:
        """What time can change about verified claims: exp passes (checked as authlib does, with
        no leeway), and the signing key stops being published."""
        return self.claims["exp"] > int(time.time()) and keys.verification_key(self.kid) is not None


def _verified_claims() -> LruCache[tuple[str, str, str], _SignedClaims]:
    """Per app, keyed by the token and the issuer and audience it was checked against."""
    cache = current_app.extensions.get(VERIFIED_CLAIMS_EXTENSION)
    if cache is None:
        cache = current_app.extensions.setdefault(
            VERIFIED_CLAIMS_EXTENSION, LruCache(VERIFIED_CLAIMS_MAX_ENTRIES)
        )
    return cache


def _remembered(cache_key: tuple[str, str, str]) -> _SignedClaims | None:
    """The claims of a token accepted before, if they still hold; else None, and decode() checks
    the token afresh (refusing it for the same reason as any other token)."""
    signed = _verified_claims().get(cache_key)
    if signed is None or signed.still_hold():
        return signed
    _verified_claims().discard(cache_key)
    return None


def _decoded(token: str) -> _SignedClaims:
    claims = decode(token)
    return _SignedClaims(dict(claims), claims.header["kid"])


def _epoch_unless_revoked(jti: str) -> bytes | None:
    """The client cache's epoch, read with the deny-list in one round trip; None when Redis
    cannot answer (or failed a moment ago), after the database said the token is not revoked.
    Raises TokenRejectedError for a revoked token."""
    if denylist.redis_resting():
        denied, epoch = denylist.denied_in_database(jti), None
    else:
        try:
            denied, seen_epoch = denylist.check(jti, also_get=client_cache.EPOCH_KEY)
            epoch = None if denied else client_cache.epoch_in_force(seen_epoch)
        except RedisError:
            log.warning("token deny-list read from the database: Redis unreachable")
            denylist.rest_redis()
            denied, epoch = denylist.denied_in_database(jti), None
    if denied:
        raise TokenRejectedError("The token was revoked.")
    return epoch


def _client(client_id: str, epoch: bytes | None) -> ApiClient:
    """The token's client, from this process's snapshot when it is current for `epoch`, else
    loaded (and kept for the next calls unless the epoch is unknown); checked on every call
    either way."""
    if epoch is None:
        return _active_client(client_id)
    client = client_cache.cached(client_id, epoch)
    if client is not None:
        return _usable(client)
    may_snapshot = client_cache.session_may_snapshot()
    client = _active_client(client_id)
    if may_snapshot:
        client_cache.remember(client, epoch)
    return client


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
    """The client from the database, in one query with its organization."""
    return _usable(db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id)))


def _usable(client: ApiClient | None) -> ApiClient:
    if client is None or not client.is_active:
        raise TokenRejectedError("The token's client was revoked.")
    if not client.organization.is_active:
        raise TokenRejectedError("The client's organization is not active.")
    return client
