"""Fixtures of the OAuth tests (helpers.py has the builders)."""

from __future__ import annotations

import pytest


@pytest.fixture
def redis(_clean_redis):
    """The test Redis database, flushed before and after the test."""
    return _clean_redis
