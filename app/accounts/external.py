"""Signing in through a company's identity provider, as the accounts sign-in pages need it.

Federation builds on accounts (users, sessions, second factors), so accounts cannot import it
back; create_app hands federation's pieces in here instead (see app/federation/sign_in.py).
Until then nobody has a provider, and every sign-in takes a password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from flask.typing import ResponseReturnValue

from app.accounts.models import User, UserSession

EXTENSION = "external_sign_in"


def _no_provider(_: object) -> None:
    return None


def _no_identities(_: User) -> list[Any]:
    return []


def _no_break_glass(_user: User, _provider: Any) -> bool:
    return False


def _nothing_to_note(_user: User, _provider: Any, _second_factor: str | None) -> None:
    return None


def _cannot_begin(provider: Any, next_url: str | None, login_hint: str | None) -> Any:
    raise RuntimeError("no identity provider sign-in is wired in")


@dataclass(frozen=True)
class ExternalSignIn:
    """What the sign-in and security pages ask about identity providers (opaque here)."""

    # Home-realm discovery: the provider for an email's domain, if any.
    provider_for_email: Callable[[str], Any | None] = _no_provider
    # The provider a user's organization requires instead of a password, if any.
    required_provider_for: Callable[[User], Any | None] = _no_provider
    # The response that sends the browser to the provider (provider, next_url, login_hint).
    begin_sign_in: Callable[[Any, str | None, str | None], ResponseReturnValue] = _cannot_begin
    # For a session that came from a provider: the provider and its sign-out URL.
    end_session_offer: Callable[[UserSession | None], tuple[Any, str] | None] = _no_provider
    # The provider identities linked to a user.
    identities_of: Callable[[User], list[Any]] = _no_identities
    # Break-glass: whether a user may still take the password (and always a second factor)
    # although `provider` is required (user, provider); and, once such a sign-in completed,
    # what is owed to it (audit, telling the organization's other admins) (user, provider,
    # second factor).
    break_glass_allowed: Callable[[User, Any], bool] = _no_break_glass
    break_glass_used: Callable[[User, Any, str | None], None] = _nothing_to_note


def init_app(app: Flask, external: ExternalSignIn) -> None:
    app.extensions[EXTENSION] = external


def external_sign_in() -> ExternalSignIn:
    return current_app.extensions.get(EXTENSION) or ExternalSignIn()
