"""The public keys a private_key_jwt client signs its assertions with: checked when registered,
and fetched from its jwks_uri (cached per process, fetched again when a new kid shows up)."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from app import outbound
from app.oauth import settings
from app.oauth.models import ApiClient

JWKS_URI_CACHE_SECONDS = 300
# An unknown kid triggers a fetch; this bounds how often one client's assertions can do that.
MIN_REFETCH_SECONDS = 10
FETCH_TIMEOUT = (2.0, 3.0)
MAX_JWKS_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
EC_CURVES = ("P-256", "P-384", "P-521")


class ClientKeyError(ValueError):
    """The JWKS or jwks_uri cannot be used; the message is shown to the admin or the client."""


def parse_jwks(jwks: dict) -> KeySet:
    """A set of public RSA (2048 bits or more) or EC signing keys; nothing private, no oct."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientKeyError('a JWKS is a JSON object with a non-empty "keys" array')
    for jwk in jwks["keys"]:
        _check_jwk(jwk)
    try:
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ClientKeyError(f"the JWKS could not be read: {exc}") from None


def _check_jwk(jwk: object) -> None:
    if not isinstance(jwk, dict):
        raise ClientKeyError("each key of the JWKS must be a JSON object")
    if jwk.get("kty") not in ("RSA", "EC"):
        raise ClientKeyError("only RSA and EC public keys are accepted")
    if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi")):
        raise ClientKeyError("the JWKS contains a private key; register only the public half")
    if jwk.get("use", "sig") != "sig":
        raise ClientKeyError('keys must be for signing ("use": "sig")')
    try:
        key = RSAKey.import_key(jwk) if jwk["kty"] == "RSA" else ECKey.import_key(jwk)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ClientKeyError(f"a key of the JWKS could not be read: {exc}") from None
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        raise ClientKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    if isinstance(key, ECKey) and jwk.get("crv") not in EC_CURVES:
        raise ClientKeyError(f"EC keys must use one of {', '.join(EC_CURVES)}")


def check_jwks_uri(uri: str) -> str:
    parts = urlsplit(uri)
    allowed = ("https", "http") if settings.allow_plain_http_jwks_uri() else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise ClientKeyError(f"the jwks_uri must be an absolute {' or '.join(allowed)} URL")
    return uri


def fetch_jwks(uri: str) -> KeySet:
    """GET the client's JWKS: short timeouts, a size cap, no redirects, and through the
    outbound guard (the address was typed by a customer: resolved, checked, pinned)."""
    try:
        with outbound.session(outbound.policy_from(current_app.config)).get(
            uri,
            timeout=FETCH_TIMEOUT,
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as response:
            status = response.status_code
            body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise ClientKeyError(f"the jwks_uri could not be fetched ({type(exc).__name__})") from None
    if status != 200 or len(body) > MAX_JWKS_BYTES:
        raise ClientKeyError(f"the jwks_uri answered {status} or more than {MAX_JWKS_BYTES} bytes")
    try:
        return parse_jwks(json.loads(body))
    except ValueError as exc:
        raise ClientKeyError(f"the jwks_uri did not answer a usable JWKS: {exc}") from None


def resolver(client: ApiClient):
    """A joserfc key resolver for the client's assertion: it sees the assertion's kid, so a
    key published at jwks_uri after the last fetch is picked up."""
    if client.jwks:
        keyset = parse_jwks(client.jwks)
        return lambda obj: keyset
    cache = _uri_cache()
    return lambda obj: cache.keyset(client.jwks_uri or "", obj.headers().get("kid"))


class JwksUriCache:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, KeySet]] = {}
        self.lock = threading.Lock()

    def keyset(self, uri: str, kid: str | None) -> KeySet:
        now = time.monotonic()
        fetched_at, keyset = self.entries.get(uri, (0.0, None))
        fresh = now - fetched_at < JWKS_URI_CACHE_SECONDS
        knows_kid = keyset is not None and (kid is None or _has_kid(keyset, kid))
        if (
            keyset is None
            or not fresh
            or (not knows_kid and now - fetched_at > MIN_REFETCH_SECONDS)
        ):
            keyset = fetch_jwks(uri)
            with self.lock:
                self.entries[uri] = (now, keyset)
        return keyset


def _has_kid(keyset: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keyset)


def _uri_cache() -> JwksUriCache:
    return current_app.extensions.setdefault("oauth_jwks_uri_cache", JwksUriCache())
