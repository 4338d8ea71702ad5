"""Federation's part of the accounts sign-in pages, handed to accounts when the app is built.

Federation builds on accounts, so accounts cannot import federation; create_app calls
init_app here and the sign-in pages find these functions through app.accounts.external.
"""

from __future__ import annotations

from flask import Flask

from app.accounts import external
from app.federation import break_glass, services, views


def init_app(app: Flask) -> None:
    external.init_app(
        app,
        external.ExternalSignIn(
            provider_for_email=services.provider_for_email,
            required_provider_for=services.required_provider_for,
            begin_sign_in=views.begin_sign_in,
            end_session_offer=views.end_session_offer,
            identities_of=services.identities_of,
            break_glass_allowed=break_glass.allowed,
            break_glass_used=break_glass.used,
        ),
    )
