"""Fixtures for company sign-in: the real test OpenID provider with the portal registered."""

from __future__ import annotations

import pytest

from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import register_portal


@pytest.fixture
def idp(oidc):
    """The session's OpenID provider, reset, with the portal registered as a client."""
    register_portal(oidc)
    return oidc


@pytest.fixture
def acme():
    return OrganizationFactory(name="Acme Implants")
