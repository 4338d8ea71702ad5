"""The mock ERP's Flask app: settings, its own database, auth, faults, JSON errors, logging."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from flask import Flask, Response, current_app, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from werkzeug.exceptions import HTTPException

from app import logs, routing
from app.erp.mock import services
from app.erp.mock.faults import FaultState
from app.erp.mock.rules import BusinessError

log = structlog.get_logger("mock_erp")

SETTING_KEYS = ("MOCK_ERP_DATABASE_URL", "MOCK_ERP_API_KEY", "MOCK_ERP_ADMIN_KEY", "MOCK_ERP_PORT")


@dataclass
class MockErp:
    """What the running mock ERP holds: its engine, a session factory and the fault switches."""

    engine: Engine
    sessions: sessionmaker[Session]
    faults: FaultState = field(default_factory=FaultState)


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    routing.init_app(app)  # ids past 64 bits answer 404, as on the portal
    app.config.update(_settings(config_overrides))
    engine = make_engine(app.config["MOCK_ERP_DATABASE_URL"])
    erp = app.extensions["mock_erp"] = MockErp(engine, sessionmaker(engine, expire_on_commit=False))
    # Starting up is an edge of its own: the seed is committed before any request is served.
    with erp.sessions() as session, unit_of_work(session):
        services.ensure_seeded(session)
    _register_hooks(app)
    _register_blueprints(app)
    return app


def _settings(overrides: dict[str, Any] | None) -> dict[str, Any]:
    from config import Config

    return {key: getattr(Config, key) for key in SETTING_KEYS} | (overrides or {})


def configure_logging() -> None:
    """Structured logs for the mock ERP's own process, shaped like the portal's."""
    from config import Config

    logs.configure(Config.LOG_FORMAT or "console", Config.LOG_LEVEL or "INFO")


def make_engine(url: str) -> Engine:
    """An engine for PostgreSQL (psycopg 3) or SQLite, safe under a threaded server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    else:
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    _serialize_sqlite_writes(engine)
    return engine


def _serialize_sqlite_writes(engine: Engine) -> None:
    # pysqlite's deferred transactions fail at once ("database is locked") when two threads
    # upgrade a read to a write; BEGIN IMMEDIATE makes them queue for the lock instead.
    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def state() -> MockErp:
    return current_app.extensions["mock_erp"]


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "erp_session" not in g:
        g.erp_session = state().sessions()
    return g.erp_session


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """The mock ERP's one commit: a view, command or startup step that writes runs its whole
    body in here, so it commits once if the body returns and rolls back on any exception.

    Services only add and flush. The commit happens before the view's answer leaves, so a
    client told 201 can read what it created, and a failed commit is answered 500, not 201.
    """
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def error(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(services.error_body(code, message, **extra)), status


def bearer_matches(expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def unauthorized() -> tuple[Response, int]:
    response, status = error(401, "UNAUTHORIZED", "A valid bearer token is required.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="mock-erp"'
    return response, status


def _register_hooks(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_log_request)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BusinessError, _business_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(services.NotFoundError, _not_found)
    app.register_error_handler(Exception, _unexpected_error)


def _register_blueprints(app: Flask) -> None:
    from app.erp.mock import admin, api, cli

    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(cli.erp)
    app.add_url_rule("/healthz", "healthz", lambda: {"ok": True})


def _start_request() -> None:
    g.started = time.perf_counter()
    g.correlation_id = logs.correlation_id_from(request.headers)


def _log_request(response: Response) -> Response:
    response.headers["X-Correlation-ID"] = g.get("correlation_id", "")
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    log.info(
        "mock_erp.request",
        method=request.method,
        path=request.path,
        status=response.status_code,
        duration_ms=round(elapsed * 1000, 1),
        correlation_id=g.get("correlation_id"),
    )
    return response


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("erp_session", None)
    if session is not None:
        session.close()  # rolls back what no unit of work committed (reads, failures)


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    code = (exc.name or "error").upper().replace(" ", "_")
    return error(exc.code or 500, code, exc.description or exc.name)


def _business_error(exc: BusinessError) -> tuple[Response, int]:
    return error(422, exc.code, exc.message)


def _validation_error(exc: ValidationError) -> tuple[Response, int]:
    details = [{"loc": [str(part) for part in e["loc"]], "message": e["msg"]} for e in exc.errors()]
    return error(400, "VALIDATION_ERROR", "The request body is invalid.", details=details)


def _not_found(exc: services.NotFoundError) -> tuple[Response, int]:
    return error(404, "NOT_FOUND", str(exc))


def _unexpected_error(exc: Exception) -> tuple[Response, int]:
    log.exception("mock_erp.unhandled_error")
    return error(500, "INTERNAL_ERROR", "The ERP failed unexpectedly.")
