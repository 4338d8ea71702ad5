"""Fixtures for throttling: the portal with test-only API endpoints, tiers made to measure,
and duck-typed API clients on them."""

from __future__ import annotations

import itertools
import uuid

import pytest

from app.db import db
from app.orgs.models import OrgKind
from app.throttling.enforcement import Throttling, clear_tier_caches
from app.throttling.models import OrganizationTier, Tier
from tests.conftest import IsolatedClient, needs_no_db
from tests.factories.oauth import ApiClientFactory
from tests.factories.orgs import OrganizationFactory
from tests.throttling.testapp import FakeClient, build_app

TOKEN_PER_CLIENT = 3
TOKEN_PER_IP = 5
_client_ids = itertools.count(700_001)


@pytest.fixture(scope="session")
def throttle_app(app):
    """A second app of the real portal (the shared one may not get new routes once it has
    served requests), on the same migrated database and Redis database."""
    second = build_app(
        {
            # Generous, so a busy machine does not flip exact-count tests to local limits.
            "THROTTLE_REDIS_TIMEOUT": 0.5,
            "THROTTLE_TOKEN_PER_CLIENT_PER_MINUTE": TOKEN_PER_CLIENT,
            "THROTTLE_TOKEN_PER_IP_PER_MINUTE": TOKEN_PER_IP,
        }
    )
    yield second
    # A second app changes when the apps are garbage-collected; close pooled connections
    # now rather than let a collector find them open (a ResourceWarning, an error here).
    for each in (second, app):
        with each.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_throttling(request):
    """Each test starts with no cached tiers and a limiter that trusts Redis (`no_db` tests,
    the pure rules, need no app and get neither)."""
    if needs_no_db(request):
        yield
        return
    throttle_app = request.getfixturevalue("throttle_app")
    clear_tier_caches()
    throttle_app.extensions["throttling"].close()
    throttle_app.extensions["throttling"] = Throttling(throttle_app)
    yield
    throttle_app.extensions["throttling"].close()
    clear_tier_caches()


@pytest.fixture
def api(throttle_app):
    throttle_app.test_client_class = IsolatedClient
    return throttle_app.test_client()


def make_tier(**limits) -> Tier:
    values = {
        "name": f"Test tier {uuid.uuid4().hex[:8]}",
        "description": "made by a test",
        "requests_per_minute": 10_000,
        "burst_per_second": 1_000,
        "requests_per_day": 1_000_000,
        "max_body_bytes": 1_000_000,
        "documents_per_day": 100_000,
        **limits,
    }
    tier = Tier(**values)
    db.session.add(tier)
    db.session.flush()
    return tier


def client_on(tier: Tier, organization=None, kind: OrgKind = OrgKind.PARTNER) -> FakeClient:
    """A new API client of an organization assigned to `tier`."""
    org = organization or OrganizationFactory(kind=kind)
    if db.session.get(OrganizationTier, org.id) is None:
        db.session.add(OrganizationTier(organization_id=org.id, tier_id=tier.id))
        db.session.flush()
    return another_client(org.id)


def another_client(organization_id: int) -> FakeClient:
    number = next(_client_ids)
    return FakeClient(id=number, client_id=f"client-{number}", organization_id=organization_id)


def registered_client(organization) -> FakeClient:
    """A real API client row (overrides reference api_clients), seen through the hook's eyes."""
    organization.approved_scopes = ["documents:read"]
    client = ApiClientFactory(
        organization=organization, name=f"client {next(_client_ids)}", scopes=["documents:read"]
    )
    return FakeClient(id=client.id, client_id=client.client_id, organization_id=organization.id)
