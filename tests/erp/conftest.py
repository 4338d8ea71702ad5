"""The ERP tests need neither the portal's database nor Redis: the root conftest's autouse
fixtures are replaced here by no-ops (the ERP fixtures themselves live in fixtures.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _db_transaction() -> None:
    """The ERP tests never touch the portal database."""


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """The ERP tests never touch Redis."""
