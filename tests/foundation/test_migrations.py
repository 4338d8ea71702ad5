"""Models and migrations must not drift apart."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import db


def test_models_match_migrations(app):
    # The test database was built by `upgrade()` alone; any model change without a
    # migration shows up here as a difference.
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run `make migration m=...`: {diff}"
