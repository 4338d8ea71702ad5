"""The portal as an OpenID Connect relying party: one Authlib Flask client per provider row.

Providers live in the database, so clients are built on demand (never registered at import)
and cached per process until the provider's settings change or its metadata grows old. Authlib
does the protocol: discovery, authorization code with PKCE (S256), state and nonce kept in the
signed session cookie, the token request, and the id token's signature (JWKS fetched again for
an unknown key id), issuer, audience, expiry and nonce. This module adds what Authlib leaves to
the application: the discovery document must name the configured issuer, only asymmetric
signature algorithms are accepted, and an `iss` authorization-response parameter (RFC 9207)
must match.

Every call to a provider (discovery, JWKS, token, userinfo) goes through the outbound guard
(app/outbound.py): the provider's addresses must be public and https, each redirect included,
and the connection goes to the address that was checked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, request
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError

from app import outbound
from app.federation.models import IdentityProvider

# Never "none" and never HMAC (an HS256 token is signed with the client secret we hold too).
ID_TOKEN_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
METADATA_MAX_AGE = 3600  # seconds; providers rarely move endpoints, keys refresh on a new kid
HTTP_TIMEOUT = 10  # seconds, on every call to a provider
CLOCK_LEEWAY = 60  # seconds of clock difference tolerated on exp/iat
REQUIRED_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# Every URL of the discovery document the portal calls or sends a browser to.
ENDPOINT_METADATA = (
    *REQUIRED_METADATA,
    *("userinfo_endpoint", "end_session_endpoint", "revocation_endpoint"),
)


class SignInError(Exception):
    """The round trip with the provider failed; `reason` is a short code for the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class VerifiedSignIn:
    """What a successful round trip yields: the verified claims and the raw id token."""

    claims: dict[str, Any]
    id_token: str


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def outbound_policy() -> outbound.Policy:
    return outbound.policy_from(current_app.config)


class GuardedOAuth2Session(OAuth2Session):
    """Authlib's requests session, with every request through the outbound guard."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        outbound.guard(self, outbound_policy())


class RelyingParty(FlaskOAuth2App):
    """Authlib's Flask OAuth2/OIDC client, checking the provider's metadata as it loads."""

    client_cls = GuardedOAuth2Session

    def __init__(self, provider: IdentityProvider) -> None:
        name = f"idp{provider.id}"
        super().__init__(
            FlaskIntegration(name),
            name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=discovery_url(provider.issuer),
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT,
            },
        )
        self.expected_issuer = provider.issuer

    def load_server_metadata(self) -> dict[str, Any]:
        try:
            metadata = super().load_server_metadata()
        except outbound.OutboundRefusedError as exc:
            raise SignInError(
                "discovery_refused",
                f"The portal will not call the identity provider's discovery document at "
                f"{self._server_metadata_url}: {exc.message}",
            ) from exc
        except (requests.RequestException, ValueError) as exc:
            raise SignInError(
                "discovery_failed",
                f"The identity provider's discovery document at "
                f"{self._server_metadata_url} could not be read ({type(exc).__name__}).",
            ) from exc
        _check_metadata(metadata, self.expected_issuer)
        self.client_kwargs["token_endpoint_auth_method"] = _auth_method(metadata)
        return metadata

    @property
    def loaded_at(self) -> float:
        return float(self.server_metadata.get("_loaded_at", time.time()))


def _check_metadata(metadata: dict[str, Any], expected_issuer: str) -> None:
    if metadata.get("issuer") != expected_issuer:
        raise SignInError(
            "issuer_mismatch",
            f"The provider's discovery document names the issuer {metadata.get('issuer')!r}, "
            f"not {expected_issuer!r} as configured. Check the issuer URL.",
        )
    if missing := [key for key in REQUIRED_METADATA if not metadata.get(key)]:
        raise SignInError(
            "discovery_incomplete", f"The discovery document lacks {', '.join(missing)}."
        )
    for key in ENDPOINT_METADATA:
        if metadata.get(key):
            try:
                outbound.check_scheme(str(metadata[key]), outbound_policy())
            except outbound.OutboundRefusedError as exc:
                raise SignInError(
                    "discovery_refused", f"The discovery document's {key}: {exc.message}"
                ) from exc
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    allowed = [alg for alg in offered if alg in ID_TOKEN_ALGORITHMS]
    if not allowed:
        raise SignInError(
            "unsupported_algorithm",
            f"The provider signs id tokens only with {', '.join(offered)}; "
            f"the portal accepts {', '.join(ID_TOKEN_ALGORITHMS)}.",
        )
    # Authlib verifies with the algorithms listed here, so narrow them to the safe ones.
    metadata["id_token_signing_alg_values_supported"] = allowed


def _auth_method(metadata: dict[str, Any]) -> str:
    supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"


_clients: dict[int, tuple[tuple[str, ...], RelyingParty]] = {}
_clients_lock = threading.Lock()


def client_for(provider: IdentityProvider) -> RelyingParty:
    """The cached client of a provider, rebuilt when its settings change or metadata ages."""
    settings = (provider.issuer, provider.client_id, provider.client_secret, provider.scopes)
    with _clients_lock:
        cached = _clients.get(provider.id)
        if cached and cached[0] == settings and _fresh(cached[1]):
            return cached[1]
        client = RelyingParty(provider)
        _clients[provider.id] = (settings, client)
        return client


def _fresh(client: RelyingParty) -> bool:
    return time.time() - client.loaded_at < METADATA_MAX_AGE


def authorization_url(
    provider: IdentityProvider, redirect_uri: str, *, login_hint: str | None = None
) -> tuple[str, str]:
    """Build the authorization request and remember its state, nonce and PKCE verifier.

    Returns (state, url). Authlib keeps the secrets in the signed session cookie."""
    client = client_for(provider)
    params = {"login_hint": login_hint} if login_hint else {}
    try:
        result = client.create_authorization_url(redirect_uri, **params)
    except RuntimeError as exc:  # Authlib's way of saying an endpoint is missing
        raise SignInError("discovery_incomplete", str(exc)) from exc
    client.save_authorize_data(redirect_uri=redirect_uri, **result)
    return result["state"], result["url"]


def finish(provider: IdentityProvider) -> VerifiedSignIn:
    """Exchange the callback's code and verify the id token; raise SignInError otherwise."""
    client = client_for(provider)
    _check_response_issuer(client)
    try:
        token = client.authorize_access_token(
            claims_options=_claims_options(provider), leeway=CLOCK_LEEWAY
        )
    except OAuthError as exc:
        raise _oauth_failure(exc) from exc
    except JoseError as exc:
        raise _token_failure(exc) from exc
    except requests.RequestException as exc:
        raise SignInError(
            "provider_unreachable", "The identity provider did not answer the token request."
        ) from exc
    if "userinfo" not in token:
        raise SignInError("no_id_token", "The identity provider sent no id token.")
    claims = _with_userinfo(client, token, dict(token["userinfo"]), _wanted_claims(provider))
    return VerifiedSignIn(claims=claims, id_token=token["id_token"])


def _wanted_claims(provider: IdentityProvider) -> set[str]:
    wanted = {"email", "email_verified"}
    return wanted | {provider.groups_claim} if provider.role_mapping else wanted


def _with_userinfo(
    client: RelyingParty, token: dict, claims: dict[str, Any], wanted: set[str]
) -> dict[str, Any]:
    """Some providers keep email or groups out of the id token; ask the userinfo endpoint.

    Its answer only fills gaps, and only when it is about the same subject (OIDC Core 5.3.2)."""
    if wanted <= claims.keys() or not client.load_server_metadata().get("userinfo_endpoint"):
        return claims
    try:
        extra = dict(client.userinfo(token=token))
    except (OAuthError, requests.RequestException, ValueError):
        return claims
    if extra.get("sub") != claims.get("sub"):
        return claims
    return {**{k: v for k, v in extra.items() if k in wanted}, **claims}


def _claims_options(provider: IdentityProvider) -> dict[str, dict[str, Any]]:
    return {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }


def _check_response_issuer(client: RelyingParty) -> None:
    """RFC 9207: the authorization response names its issuer; a different one is a mix-up."""
    metadata = client.load_server_metadata()
    iss = request.args.get("iss")
    required = metadata.get("authorization_response_iss_parameter_supported") is True
    if (iss is None and required) or (iss is not None and iss != client.expected_issuer):
        raise SignInError(
            "issuer_mismatch",
            "The sign-in response came from a different issuer than the one you started with.",
        )


def _oauth_failure(exc: OAuthError) -> SignInError:
    if exc.error == "mismatching_state":
        return SignInError(
            "state_mismatch",
            "This sign-in response does not belong to a sign-in started in this browser.",
        )
    if exc.error == "access_denied":
        return SignInError("access_denied", "The sign-in was cancelled at the identity provider.")
    detail = f": {exc.description}" if exc.description else ""
    return SignInError("provider_error", f"The identity provider answered {exc.error}{detail}.")


def _token_failure(exc: JoseError) -> SignInError:
    if isinstance(exc, ExpiredTokenError):
        return SignInError("token_expired", "The identity provider's id token has expired.")
    if isinstance(exc, ClaimError):
        return SignInError(
            f"token_claim_{exc.claim}", f"The id token's {exc.claim} claim is not valid."
        )
    return SignInError("token_invalid", "The id token's signature could not be verified.")


def end_session_url(
    provider: IdentityProvider, post_logout_redirect_uri: str, id_token_hint: str | None
) -> str | None:
    """The provider's RP-initiated logout URL, or None when it has no end_session_endpoint."""
    client = client_for(provider)
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
    except SignInError:
        return None
    return str(
        client.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=id_token_hint,
            client_id=provider.client_id,
        )["url"]
    )
