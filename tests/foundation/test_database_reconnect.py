"""A database connection that dies under a request or a job (a restart, a failover,
`pg_terminate_backend`) costs no error when nothing was committed yet: the unit of work runs
again on a fresh connection. Only when that cannot help (retries spent, or part of the work
already committed) does the client get one clear 503 that says to retry, never a 500."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask, request
from sqlalchemy import text

from app import create_app
from app.db import commit_edge, db
from app.jobs import job
from tests.conftest import UNREACHABLE_ERP

pytestmark = pytest.mark.no_db

TABLE = "reconnect_probe"


def _terminate(app: Flask, pid: int) -> None:
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _backend() -> int:
    return int(db.session.scalar(text("SELECT pg_backend_pid()")))


def _killed_once(app: Flask, killed: list[int]) -> None:
    """On the first call only, the database kills the connection this unit of work uses."""
    if not killed:
        killed.append(_backend())
        _terminate(app, killed[0])


def _make_app(**overrides: object) -> Flask:
    # The routes below are posted to without a form: no CSRF token to show.
    settings = {"ERP_URL": UNREACHABLE_ERP, "WTF_CSRF_ENABLED": False}
    return create_app("testing", {**settings, **overrides})


@pytest.fixture
def fragile_app() -> Iterator[Flask]:
    """The portal without pre-ping (the default) and a few routes that use the database.
    Outside the test transaction: the connection must really be dropped."""
    app = _make_app()
    yield from _with_routes(app)


@pytest.fixture
def no_retries_app() -> Iterator[Flask]:
    yield from _with_routes(_make_app(DATABASE_RETRIES=0))


def _with_routes(app: Flask) -> Iterator[Flask]:
    killed: list[int] = []
    runs: list[int] = []

    def backend() -> dict[str, int]:
        return {"backend": _backend()}

    def save() -> tuple[dict[str, int], int]:
        """Writes a row, then loses its connection on the first attempt."""
        runs.append(1)
        db.session.execute(text(f"INSERT INTO {TABLE} (note) VALUES ('saved')"))  # noqa: S608
        _killed_once(app, killed)
        return {"rows": _count()}, 201

    def save_twice() -> tuple[dict[str, int], int]:
        """Commits one row, then loses its connection before the second commit."""
        runs.append(1)
        db.session.execute(text(f"INSERT INTO {TABLE} (note) VALUES ('first')"))  # noqa: S608
        db.session.commit()
        db.session.execute(text(f"INSERT INTO {TABLE} (note) VALUES ('second')"))  # noqa: S608
        _killed_once(app, killed)
        return {"rows": _count()}, 201

    def upload() -> dict[str, str]:
        body = request.files["file"].read().decode()
        _killed_once(app, killed)
        return {"read": body}

    # The routes added here get the commit edge, as create_app gives every view.
    app.add_url_rule("/api/_backend", "api_backend", commit_edge(backend))
    app.add_url_rule("/_backend", "page_backend", commit_edge(backend))
    app.add_url_rule("/api/_save", "save", commit_edge(save), methods=["POST"])
    app.add_url_rule("/api/_save_twice", "save_twice", commit_edge(save_twice), methods=["POST"])
    app.add_url_rule("/api/_upload", "upload", commit_edge(upload), methods=["POST"])
    app.extensions["test_runs"] = runs
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        connection.execute(text(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, note text)"))
    yield app
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        db.engine.dispose()


def _count() -> int:
    return int(db.session.scalar(text(f"SELECT count(*) FROM {TABLE}")))  # noqa: S608


def _rows(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(text(f"SELECT note FROM {TABLE} ORDER BY id")))  # noqa: S608


def test_a_pooled_connection_that_died_costs_the_client_nothing(fragile_app):
    client = fragile_app.test_client()
    first = client.get("/api/_backend")
    _terminate(fragile_app, first.json["backend"])

    after = client.get("/api/_backend")

    assert first.status_code == 200
    assert after.status_code == 200
    assert after.json["backend"] != first.json["backend"]


def test_a_write_whose_connection_dies_midway_is_saved_once(fragile_app):
    response = fragile_app.test_client().post("/api/_save")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json == {"rows": 1}
    assert len(fragile_app.extensions["test_runs"]) == 2  # the view ran again
    assert _rows(fragile_app) == ["saved"]


def test_an_uploaded_file_is_read_again_from_its_start(fragile_app):
    response = fragile_app.test_client().post(
        "/api/_upload", data={"file": (io.BytesIO(b"INV-1,12.00"), "invoice.csv")}
    )

    assert response.status_code == 200
    assert response.json == {"read": "INV-1,12.00"}


def test_work_that_committed_a_part_is_not_run_again_and_says_retry(fragile_app):
    response = fragile_app.test_client().post("/api/_save_twice")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert len(fragile_app.extensions["test_runs"]) == 1
    assert _rows(fragile_app) == ["first"]  # the committed part stays; nothing twice


def test_with_retries_off_the_api_answers_503_once_then_recovers(no_retries_app):
    client = no_retries_app.test_client()
    first = client.get("/api/_backend")
    _terminate(no_retries_app, first.json["backend"])

    lost = client.get("/api/_backend")
    again = client.get("/api/_backend")

    assert lost.status_code == 503
    assert lost.mimetype == "application/problem+json"
    assert lost.headers["Retry-After"] == "1"
    assert "nothing was saved" in lost.json["detail"]
    assert again.status_code == 200
    assert again.json["backend"] != first.json["backend"]


def test_with_retries_off_a_browser_gets_a_page_that_says_to_try_again(no_retries_app):
    client = no_retries_app.test_client()
    first = client.get("/_backend")
    _terminate(no_retries_app, first.json["backend"])

    lost = client.get("/_backend", headers={"Accept": "text/html"})

    assert lost.status_code == 503
    assert b"Please try again" in lost.data
    assert b"nothing was saved" in lost.data
    assert client.get("/_backend").status_code == 200


def test_a_job_whose_connection_dies_runs_again_at_once(fragile_app):
    killed: list[int] = []
    runs: list[int] = []

    @job
    def stage() -> int:
        runs.append(1)
        db.session.execute(text(f"INSERT INTO {TABLE} (note) VALUES ('stage')"))  # noqa: S608
        _killed_once(fragile_app, killed)
        return _count()

    run: Callable[[], int] = stage
    with fragile_app.app_context():
        assert run() == 1

    assert len(runs) == 2
    assert _rows(fragile_app) == ["stage"]
