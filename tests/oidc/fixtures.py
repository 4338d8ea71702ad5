"""pytest fixtures for the test OpenID provider.

Load them from the top-level conftest with ``pytest_plugins = ["tests.oidc.fixtures"]``.
Override ``oidc_provider_config`` (session scope) there to give the provider its baseline
clients, users and settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.oidc.harness import OidcProvider


@pytest.fixture(scope="session")
def oidc_provider_config() -> dict[str, Any]:
    """Keyword arguments for `OidcProvider` (clients, users, settings, claims)."""
    return {}


@pytest.fixture(scope="session")
def oidc_provider(oidc_provider_config: dict[str, Any]) -> Iterator[OidcProvider]:
    """One provider process for the whole session; state changes leak between tests."""
    with OidcProvider(**oidc_provider_config) as provider:
        yield provider


@pytest.fixture
def oidc(oidc_provider: OidcProvider) -> OidcProvider:
    """The session provider, reset to its baseline clients, users and settings."""
    oidc_provider.reset()
    return oidc_provider
