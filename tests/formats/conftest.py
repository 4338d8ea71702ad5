"""The format tests are pure: no database, no Redis, so the root autouse fixtures become no-ops."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _db_transaction() -> None:
    """Parsers never touch the portal database."""


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    """Parsers never touch Redis."""
