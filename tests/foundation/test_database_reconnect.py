"""A pooled database connection that died (restart, failover) costs one clear 503, not a 500,
and the next request works on a fresh connection."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from app.db import db
from tests.conftest import UNREACHABLE_ERP

pytestmark = pytest.mark.no_db


@pytest.fixture
def fragile_app() -> Iterator[Flask]:
    """The portal without pre-ping (the default), with a page and an API path that use the
    database. Outside the test transaction: the connection must really be dropped."""
    app = create_app("testing", {"ERP_URL": UNREACHABLE_ERP})

    def backend() -> dict[str, int]:
        return {"backend": db.session.scalar(text("SELECT pg_backend_pid()"))}

    app.add_url_rule("/api/_backend", "api_backend", backend)
    app.add_url_rule("/_backend", "page_backend", backend)
    yield app
    with app.app_context():
        db.engine.dispose()


def _terminate(app: Flask, pid: int) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_the_api_answers_503_once_with_retry_after_then_recovers(fragile_app):
    client = fragile_app.test_client()
    first = client.get("/api/_backend")
    _terminate(fragile_app, first.json["backend"])

    lost = client.get("/api/_backend")
    again = client.get("/api/_backend")

    assert first.status_code == 200
    assert lost.status_code == 503
    assert lost.mimetype == "application/problem+json"
    assert lost.headers["Retry-After"] == "1"
    assert "nothing was saved" in lost.json["detail"]
    assert again.status_code == 200
    assert again.json["backend"] != first.json["backend"]


def test_a_browser_gets_a_page_that_says_to_try_again(fragile_app):
    client = fragile_app.test_client()
    first = client.get("/_backend")
    _terminate(fragile_app, first.json["backend"])

    lost = client.get("/_backend", headers={"Accept": "text/html"})

    assert lost.status_code == 503
    assert b"Please try again" in lost.data
    assert b"nothing was saved" in lost.data
    assert client.get("/_backend").status_code == 200
