"""The base of every model factory: rows go into the test's own session and are flushed, never
committed (the per-test transaction rolls them back)."""

from __future__ import annotations

from factory.alchemy import SQLAlchemyModelFactory

from app.db import db


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        # Read at call time: the root conftest swaps `db.session` for each test's session.
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"
