"""The identity provider life cycle table, without a database."""

from __future__ import annotations

import pytest

from app.federation import services
from app.federation.models import IdentityProvider, ProviderStatus

pytestmark = pytest.mark.no_db


def test_every_status_has_a_row():
    assert set(services.ALLOWED) == set(ProviderStatus)


def test_approving_an_approved_provider_is_refused():
    provider = IdentityProvider(id=3, organization_id=1, status=ProviderStatus.APPROVED)
    with pytest.raises(services.ProviderConfigError, match="already approved"):
        services.transition(provider, ProviderStatus.APPROVED, actor=None)  # type: ignore[arg-type]
    assert provider.status == ProviderStatus.APPROVED
