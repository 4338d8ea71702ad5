"""Ops tests sign in as ops (a hospital staff role) or as someone who is not."""

from __future__ import annotations

import pytest

from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory


@pytest.fixture
def ops_client(client):
    UserFactory(email="ops@hospital.example", role=Role.OPS)
    login(client, "ops@hospital.example", PASSWORD)
    return client


@pytest.fixture
def clerk_client(client):
    UserFactory(email="clerk@hospital.example", role=Role.FINANCE_CLERK)
    login(client, "clerk@hospital.example", PASSWORD)
    return client
