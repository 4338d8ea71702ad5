"""Driving company sign-in end to end: the portal in Flask's test client, the provider over HTTP."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from app.db import db
from app.federation.models import IdentityProvider, IdentityProviderDomain, ProviderStatus
from app.orgs.models import Organization
from app.orgs.roles import Role
from tests.conftest import csrf_token
from tests.oidc.harness import OidcProvider, login_flow

CLIENT_ID = "portal"
CLIENT_SECRET = "portal-client-secret"
CALLBACK = "http://portal.test/auth/oidc/callback"
AFTER_LOGOUT = "http://portal.test/login"


def register_portal(idp: OidcProvider) -> None:
    """What an organization's IT does at its provider: register the portal as a web app."""
    idp.add_client(
        CLIENT_ID,
        CLIENT_SECRET,
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[AFTER_LOGOUT],
        token_endpoint_auth_method="client_secret_basic",
    )


def approved_provider(
    org: Organization,
    idp: OidcProvider,
    *,
    domains: tuple[str, ...] = ("acme.example",),
    issuer: str | None = None,
    **settings,
) -> IdentityProvider:
    """A provider as the org admin configured it and a procurement admin approved it."""
    provider = IdentityProvider(
        organization=org,
        name=settings.pop("name", "Acme SSO"),
        issuer=issuer or idp.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=settings.pop("scopes", "openid email profile groups"),
        status=settings.pop("status", ProviderStatus.APPROVED),
        domains=[IdentityProviderDomain(domain=d) for d in domains],
        **settings,
    )
    db.session.add(provider)
    db.session.flush()
    return provider


def person(email: str, *, verified: bool = True, groups: tuple[str, ...] = (), **claims) -> dict:
    """A user entry at the provider (claims it will release, plus its login password)."""
    return {
        "email": email,
        "email_verified": verified,
        "name": claims.pop("name", email.split("@", maxsplit=1)[0].title()),
        "groups": list(groups),
        "password": "provider-password",
        **claims,
    }


def start_sign_in(client, email: str):
    """The sign-in page's first step: enter the email, get sent to the provider (or not)."""
    page = client.get("/login")
    return client.post(
        "/login", data={"email": email, "csrf_token": csrf_token(page.get_data(as_text=True))}
    )


_LEAVING = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def provider_url(response) -> str:
    """Where the portal sends the browser to sign in: a page that moves on by meta refresh
    (never a redirect after the form post: CSP form-action would block that)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    match = _LEAVING.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return html.unescape(match.group(1))


def at_provider(authorize_url: str, account: str, browser: requests.Session | None = None) -> str:
    """The person signs in at the provider; returns the redirect back to the portal."""
    return login_flow(browser or requests.Session(), authorize_url, account, "provider-password")


def sso_sign_in(client, email: str, account: str, browser: requests.Session | None = None):
    """The whole round trip; returns the portal's answer to the callback."""
    started = start_sign_in(client, email)
    callback = at_provider(provider_url(started), account, browser)
    assert callback.startswith(CALLBACK), callback
    return client.get(callback)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def replace_id_token(monkeypatch, change: Callable[[str], str]) -> None:
    """Swap the id token on its way from the token endpoint to the portal: what a man in the
    middle, or a token copied from elsewhere, would try."""
    original = HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        response = original(self, request, *args, **kwargs)
        if request.method == "POST" and urlsplit(request.url).path == "/token":
            body = response.json()
            body["id_token"] = change(body["id_token"])
            response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)


def tamper_id_token(monkeypatch, change: Callable[[dict], None]) -> None:
    """Edit the id token's payload and keep the provider's signature."""

    def edit(id_token: str) -> str:
        header, payload, signature = id_token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        change(claims)
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"

    replace_id_token(monkeypatch, edit)


def roles_of(user) -> set[Role]:
    db.session.refresh(user)
    return set(user.roles)


def signed_in_as(client, email: str) -> bool:
    """Whether the browser holds a usable portal session of `email`."""
    page = client.get("/home")
    return page.status_code == 200 and f"<span>{email}" in page.get_data(as_text=True)
