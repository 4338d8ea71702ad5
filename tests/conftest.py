"""Tests run on the real PostgreSQL and Redis: one migrated database, each test in a
transaction rolled back through a savepoint, a dedicated Redis database flushed per test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pyotp
import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from redis import Redis
from sqlalchemy import text
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.db import db
from app.jobs import redis_connection

pytest_plugins = ["tests.oidc.fixtures", "tests.erp.fixtures", "tests.live"]

# ERP calls fail loudly unless a test asks for the mock ERP (nothing listens on port 9).
UNREACHABLE_ERP = "http://127.0.0.1:9"


def pytest_configure(config):
    os.environ.setdefault("APP_ENV", "testing")


@pytest.fixture(scope="session")
def app():
    app = create_app(
        "testing", {"ERP_URL": UNREACHABLE_ERP, "ERP_CONNECT_TIMEOUT": 0.5, "ERP_READ_TIMEOUT": 2.0}
    )
    with app.app_context():
        _fresh_schema()
        upgrade(revision="heads")
    yield app
    with app.app_context():
        db.engine.dispose()  # close pooled connections before exit (warnings are errors)


def _fresh_schema() -> None:
    """Start every run from an empty database so migrations are tested from zero."""
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def needs_no_db(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked `no_db`: it touches neither PostgreSQL nor Redis, so the
    autouse fixtures below do nothing and never build the session `app` (no migrations)."""
    return request.node.get_closest_marker("no_db") is not None


@pytest.fixture(autouse=True)
def _db_transaction(request):
    """Each test runs inside an outer transaction that is rolled back at the end."""
    if needs_no_db(request):
        yield None
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        # A plain Session honours `bind` (Flask-SQLAlchemy's own picks the engine instead).
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _clean_redis(request):
    """The test's Redis database, flushed before and after the test (not for `no_db` tests)."""
    if needs_no_db(request):
        yield None
        return
    redis: Redis = redis_connection(request.getfixturevalue("app"))
    redis.flushdb()
    yield redis
    redis.flushdb()


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (fresh `g` and DB session), as in production,
    even while the test itself holds an app context open."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


TOTP_SECRET_RE = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')


def login(client, email: str, password: str, *, follow: bool = False, mfa_code: str | None = None):
    """Sign in the way a browser does: load the form, then post it with its CSRF token.

    The sign-in form's second step posts email and password together, which is what this sends.
    Staff (finance, procurement, ops) without two-step verification must set it up right after
    their password: the helper does so as a person would (reads the key off the set-up page and
    answers with the current code), so one call still ends in a usable session. A user who has
    it set up already needs `mfa_code` for the code step. Returns the last response."""
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    response = _second_factor(client, response, mfa_code)
    if follow and response.status_code in (302, 303):
        response = client.get(response.headers["Location"], follow_redirects=True)
    return response


def _second_factor(client, response, mfa_code: str | None):
    location = response.headers.get("Location", "") if response.status_code == 302 else ""
    path = urlsplit(location).path
    if path == "/account/mfa/setup":
        page = client.get(location).get_data(as_text=True)
        code = pyotp.TOTP(TOTP_SECRET_RE.search(page).group(1).replace(" ", "")).now()
    elif path == "/login/verify" and mfa_code is not None:
        page = client.get(location).get_data(as_text=True)
        code = mfa_code
    else:
        return response
    return client.post(location, data={"code": code, "csrf_token": csrf_token(page)})


@contextmanager
def erp_of_the_test(app, erp) -> Iterator[None]:
    """The portal talks to `erp` until the block ends, then to the ERP it had before."""
    from app.erp import set_erp

    previous = app.extensions.get("erp")
    set_erp(app, erp)
    try:
        yield
    finally:
        if previous is None:
            app.extensions.pop("erp", None)
        else:
            set_erp(app, previous)


@pytest.fixture
def portal_erp(app, erp_server):
    """Point the portal at the real mock ERP process for this test."""
    with erp_of_the_test(app, erp_server.client()):
        yield erp_server


@pytest.fixture
def fake_erp(app):
    """The in-memory ERP that records its calls (app.erp.fake), for tests that script the ERP's
    failures; everything else talks to the real mock ERP (`portal_erp`)."""
    from app.erp.fake import RecordingErp

    erp = RecordingErp()
    with erp_of_the_test(app, erp):
        yield erp
