"""Clients, keys and tokens for the OAuth tests (organizations come from tests.factories)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from app.db import utcnow
from app.oauth import keys, settings
from app.oauth.models import ApiClient
from app.orgs.models import Organization
from tests.factories.oauth import ApiClientFactory


def new_client(org: Organization, method: str = "client_secret_basic", **kwargs):
    """(client, secret) of a new client of `org` (ApiClientFactory: made by the service the
    pages and the CLI use, committed so the live server sees it)."""
    client = ApiClientFactory(organization=org, auth_method=method, **kwargs)
    return client, client.secret


def ec_key(kid: str = "client-ec-1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"}, private=True)


def rsa_key(kid: str = "client-rsa-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


def public_jwks(*private_keys) -> dict:
    return KeySet([type(k).import_key(k.as_dict(private=False)) for k in private_keys]).as_dict()


def assertion(key, client_id: str, audience: str, alg: str = "ES256", **claims) -> str:
    """A client assertion (RFC 7523) signed with the client's private key."""
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_urlsafe(12),
        **claims,
    }
    header = {"alg": alg, "kid": key.kid} if key.kid else {"alg": alg}
    return jwt.encode(header, payload, key)


def forge_token(client: ApiClient, signing_key=None, *, kid: str | None = None, **claims) -> str:
    """A token with chosen claims, signed by our current key unless another key is given.
    Its issuer is the in-process test client's (http://portal.test)."""
    now = int(time.time())
    payload = {
        "iss": settings.issuer(),
        "sub": client.client_id,
        "aud": settings.audience(),
        "client_id": client.client_id,
        "scope": " ".join(client.scopes),
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + 900,
        **claims,
    }
    key = signing_key or keys.signing_keyset().keys[0]
    header = {"alg": "ES256", "typ": "at+jwt", "kid": kid or key.kid}
    return jwt.encode(header, payload, key)


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims_of(token: str) -> dict:
    return _segment(token, 1)


def header_of(token: str) -> dict:
    return _segment(token, 0)


def ago(**delta) -> dt.datetime:
    return utcnow() - dt.timedelta(**delta)


@contextmanager
def jwks_server(jwks: dict) -> Iterator[str]:
    """A client's own HTTP server publishing its JWKS (read at each request, so a test may
    change it); yields the jwks_uri."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # A fresh path each time, so a reused port never meets a cached JWKS of another test.
        yield f"http://127.0.0.1:{server.server_port}/{secrets.token_hex(4)}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
