"""The browser side of an OpenID Connect round trip: which provider and purpose a returning
`state` belongs to, and the company identity waiting for a password before it is linked.

Both live in the signed session cookie, next to the state, nonce and PKCE verifier that Authlib
keeps there; all of it is bound to the browser that started the sign-in.
"""

from __future__ import annotations

import time
from typing import Any

from flask import render_template, session, url_for
from flask_login import current_user

from app.accounts.models import User
from app.federation import oidc
from app.federation.models import IdentityProvider

FLOWS_KEY = "oidc_flows"
LINK_KEY = "oidc_link"
FLOW_TTL = 600  # seconds to come back from the provider
LINK_TTL = 600  # seconds to enter the password that links an existing account
MAX_FLOWS = 3  # sign-ins started in other tabs; older ones are dropped


def begin(
    provider: IdentityProvider,
    purpose: str,
    *,
    next_url: str | None = None,
    login_hint: str | None = None,
) -> str:
    """Send the browser to the provider; `purpose` is "login" or "test". Raises SignInError.

    Answered with a page that moves on by itself (meta refresh, and a link), not a redirect:
    every sign-in starts from a form post, and browsers check the page's CSP `form-action`
    on each redirect after a form submission, so a redirect to the provider would be blocked
    by `form-action 'self'` (app/headers.py). A refresh is a new navigation, not the form's."""
    redirect_uri = url_for("federation.callback", _external=True)
    state, url = oidc.authorization_url(provider, redirect_uri, login_hint=login_hint)
    now = time.time()
    flows = {k: v for k, v in session.get(FLOWS_KEY, {}).items() if now - v["at"] < FLOW_TTL}
    flows[state] = {
        "provider_id": provider.id,
        "purpose": purpose,
        "next": next_url,
        "user_id": current_user.id if current_user.is_authenticated else None,
        "at": now,
    }
    session[FLOWS_KEY] = dict(list(flows.items())[-MAX_FLOWS:])
    return render_template("federation/leaving.html", provider=provider, url=url)


def take(state: str | None) -> dict[str, Any] | None:
    """The flow a callback's state belongs to, used up; None if unknown or too old."""
    flows = dict(session.get(FLOWS_KEY, {}))
    data = flows.pop(state, None) if state else None
    session[FLOWS_KEY] = flows
    if data is None or time.time() - data["at"] > FLOW_TTL:
        return None
    return data


def remember_link(
    provider: IdentityProvider,
    user: User,
    subject: str,
    roles: list[str] | None,
    next_url: str | None,
) -> None:
    session[LINK_KEY] = {
        "provider_id": provider.id,
        "user_id": user.id,
        "subject": subject,
        "roles": roles,
        "next": next_url,
        "at": time.time(),
    }


def pending_link() -> dict[str, Any] | None:
    data = session.get(LINK_KEY)
    if data is None or time.time() - data["at"] > LINK_TTL:
        return None
    return dict(data)
