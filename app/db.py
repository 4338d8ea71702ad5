"""The declarative base, the session, and the one commit edge.

A unit of work commits once, at its edge, and rolls back on any exception: every view is
wrapped by `commit_edge` when the app is built, jobs by `app.jobs.job`, CLI commands use
`unit_of_work()` directly. Services only add and flush. Inside a view, an action the user may
be refused runs in `refusable()`, so a refusal undoes that action alone and the view can show
why while the rest of the request (a sign-in attempt counted, say) is still committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Enum, MetaData, Table, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger(__name__)
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def table_of(model: Any) -> Table:
    """A mapped class's Table, for Core statements on hot paths (the ORM's unit of work and
    bulk paths cost more per row than they give there)."""
    return cast(Table, model.__table__)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on PostgreSQL and on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Models subclass `Model`: at run time Flask-SQLAlchemy's db.Model, for type checkers the typed
# Base it is built from (mypy cannot follow the dynamic attribute).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """Store an enum by value as a plain string (portable, readable in SQL)."""
    return Enum(
        enum_cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        validate_strings=True,
        length=length,
    )


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def advisory_xact_lock(lock_id: int) -> None:
    """Serialize a critical section across processes until this transaction ends (PostgreSQL;
    SQLite already runs one writer at a time)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


@contextlib.contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit once at the edge of a request, command or job; roll back on any exception."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        # Work queued for after the commit must not leak into the session's next commit,
        # even when the failed unit never touched the database (no rollback event fires then).
        db.session.info.pop("pending_jobs", None)
        raise


def commit_edge(view: Callable[..., Any]) -> Callable[..., Any]:
    """A request handler as one unit of work: committed when it returns (whatever its status:
    a 401 page still counts the failed sign-in), rolled back when it raises; run again when the
    database connection is lost under it (`unit_of_work_retried`)."""

    @functools.wraps(view)
    def handler(*args: Any, **kwargs: Any) -> Any:
        return unit_of_work_retried(lambda: view(*args, **kwargs))

    return handler


def unit_of_work_retried(work: Callable[[], T]) -> T:
    """`work` in one unit of work. When the database connection dies under it (a restart, a
    failover, `pg_terminate_backend`) before it committed anything, it runs again on a fresh
    connection, up to DATABASE_RETRIES times: the database rolled back all it had done, so no
    client or job needs to see the loss. What it left on `g` (a signed-in user, a client loaded
    through the dead session) is forgotten so the next attempt loads it again. Work that had
    already committed a part (a job with phases) is not run again from the start; the error
    goes on to the caller (a 503 that says to retry, or the job's own retries)."""
    retries = int(current_app.config.get("DATABASE_RETRIES", 2))
    before = set(g)
    for tries in itertools.count(1):
        commits = g.get("db_commits", 0)
        try:
            with unit_of_work():
                return work()
        except DBAPIError as error:
            lost = error.connection_invalidated and g.get("db_commits", 0) == commits
            if not lost or tries > retries:
                raise
            log.warning("database connection lost; running the unit of work again", tries=tries)
            with contextlib.suppress(DBAPIError):
                db.session.remove()
            for name in set(g) - before - {"db_commits"}:
                g.pop(name, None)
            _rewind_uploads()
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _rewind_uploads() -> None:
    """Files a form uploaded are read from the start again by the next attempt."""
    if has_request_context():
        for upload in request.files.values():
            upload.stream.seek(0)


@event.listens_for(Session, "after_commit")
def _count_commit(_session: Session) -> None:
    """How many commits the current request or job made (see unit_of_work_retried)."""
    if has_app_context():
        g.db_commits = g.get("db_commits", 0) + 1


def end_sessions_quietly(app: Flask) -> None:
    """End each request's session even when its connection has died (a database restart,
    `pg_terminate_backend`): the rollback that ending it sends then fails, and an error there,
    after the answer was made, would replace the answer with the server's bare 500 page.
    Registered after Flask-SQLAlchemy's teardown, so it runs first (teardowns run in reverse)."""

    @app.teardown_appcontext
    def _remove_session(_error: BaseException | None) -> None:
        try:
            db.session.remove()
        except DBAPIError:
            app.logger.warning("ending the session failed; its connection is gone", exc_info=True)


def wrap_views(app: Flask) -> None:
    """Give every registered view the commit edge: once, here, rather than per view."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = commit_edge(view)


@contextlib.contextmanager
def refusable() -> Iterator[None]:
    """Run an action the user may be refused in a savepoint: if it raises, its own writes are
    undone and the exception goes on to the view, which says why; the unit of work goes on."""
    with db.session.begin_nested():
        yield
