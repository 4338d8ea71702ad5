"""`make migrations-check`: before the tests trust the migrations, prove they form one line,
build an empty database, tear it down and build it again (PostgreSQL and SQLite), and match
the models.

PostgreSQL work happens in a throwaway database created on the server of TEST_DATABASE_URL and
dropped at the end; the database that URL names is never touched.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.engine import URL, make_url

import config as config_module
from app import create_app
from app.db import db

# CREATE and DROP DATABASE must run while connected to some other database of the server.
MAINTENANCE_DATABASE = "postgres"
VERSIONS_DIR = config_module.BASE_DIR / "migrations" / "versions"


class CheckError(Exception):
    """A step found a problem; the message says which step and what is wrong."""


def main() -> int:
    # A CI timeout sends SIGTERM; as SystemExit it still lets the throwaway database be dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Alembic logs every revision at INFO; this script prints one line per step instead.
    logging.disable(logging.INFO)
    try:
        check_single_head()
        check_postgresql()
        check_sqlite()
    except CheckError as exc:
        report(exc)
        return 1
    print("migrations check passed")
    return 0


def report(exc: CheckError) -> None:
    if exc.__cause__ is not None:  # an unexpected error: its traceback shows where
        traceback.print_exception(exc.__cause__)
    print(f"FAILED  {exc}", file=sys.stderr)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Print `ok  name` when the block succeeds; turn any error into a CheckError naming it."""
    try:
        yield
    except CheckError as exc:
        raise CheckError(f"{name}: {exc}") from exc.__cause__
    except Exception as exc:
        raise CheckError(f"{name}: {type(exc).__name__}: {exc}") from exc
    print(f"ok      {name}", flush=True)  # before any FAILED on stderr, even in a pipe


def migration_app(database_url: str) -> Flask:
    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": database_url})


def alembic_config(app: Flask) -> Config:
    """The configuration `flask db ...` uses, so env.py runs exactly as it does there."""
    return app.extensions["migrate"].migrate.get_config()


def check_single_head() -> None:
    """Two heads mean two branches nobody merged; `flask db upgrade` refuses to run then."""
    app = migration_app("sqlite://")
    with step("one alembic head"), app.app_context():
        heads = ScriptDirectory.from_config(alembic_config(app)).get_heads()
        if len(heads) != 1:
            raise CheckError(
                f"found {len(heads)} heads ({', '.join(sorted(heads)) or 'none'}); "
                'merge them with `flask --app wsgi db merge heads -m "..."`'
            )


def check_postgresql() -> None:
    server = make_url(config_module.TestingConfig.SQLALCHEMY_DATABASE_URI)
    if server.get_backend_name() != "postgresql":
        raise CheckError(f"TEST_DATABASE_URL must name a PostgreSQL server, not {server!r}")
    with throwaway_postgresql(server) as url:
        app = migration_app(url.render_as_string(hide_password=False))
        with app.app_context():
            try:
                round_trip(app, "postgresql")
                with step("postgresql: models match migrations"):
                    check_no_drift()
            finally:
                db.engine.dispose()  # so the DROP DATABASE below waits for no connection


@contextlib.contextmanager
def throwaway_postgresql(server: URL) -> Iterator[URL]:
    """An empty database with a unique name, so parallel runs and the shared test database
    never meet; dropped even when a step fails."""
    name = f"migrations_check_{secrets.token_hex(6)}"
    admin = create_engine(server.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT")
    try:
        with step(f"postgresql: create empty database {name} on {server.host or 'localhost'}"):
            # template0: template1 may carry local additions and refuses copies while in use.
            run_admin(admin, f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield server.set(database=name)
        except BaseException:
            try:
                drop_database(admin, name)
            except CheckError as cleanup:  # say so, but keep the failure that brought us here
                print(f"FAILED  {cleanup}", file=sys.stderr)
            raise
        drop_database(admin, name)
    finally:
        admin.dispose()


def drop_database(admin: Engine, name: str) -> None:
    with step(f"postgresql: drop database {name}"):
        # FORCE: a connection a failed step left open must not keep the database alive.
        run_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_admin(admin: Engine, statement: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(statement))


def check_sqlite() -> None:
    """`make run` migrates a SQLite file; batch mode must carry every migration there too."""
    with tempfile.TemporaryDirectory(prefix="migrations-check-") as tmp:
        app = migration_app(f"sqlite:///{Path(tmp) / 'portal.sqlite'}")
        with app.app_context():
            try:
                round_trip(app, "sqlite")
            finally:
                db.engine.dispose()


def round_trip(app: Flask, label: str) -> None:
    """upgrade head, downgrade base, upgrade head: every downgrade() must undo its upgrade()."""
    config = alembic_config(app)
    # env.py hands these to context.configure(), as it does for `flask db`.
    app.extensions["migrate"].configure_args["on_version_apply"] = UndoCheck()
    with step(f"{label}: upgrade base -> head"):
        migrate(command.upgrade, config, "head")
    with step(f"{label}: downgrade head -> base, each step undoing its upgrade"):
        migrate(command.downgrade, config, "base")
    with step(f"{label}: upgrade base -> head again"):
        try:
            migrate(command.upgrade, config, "head")
        except CheckError as exc:
            hint = "it worked on the empty database, so some downgrade() leaves something behind"
            raise CheckError(f"{exc}\n        ({hint})") from exc.__cause__


class UndoCheck:
    """Alembic's on_version_apply hook: remember the schema after each upgrade step; after each
    downgrade step, require the schema remembered for the same heads. A full downgrade alone
    misses a forgotten drop_column on a table an older downgrade() drops anyway."""

    def __init__(self) -> None:
        self.schemas: dict[frozenset[str], MetaData] = {frozenset(): MetaData()}

    def __call__(
        self, *, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: Any
    ) -> None:
        assert ctx.connection is not None  # noqa: S101 - online mode only, never --sql
        key = frozenset(heads)
        if step.is_upgrade:
            self.schemas[key] = MetaData()
            self.schemas[key].reflect(ctx.connection)
            return
        if key in self.schemas and (diff := schema_diff(ctx.connection, self.schemas[key])):
            raise CheckError(
                f"downgrade() of {step.up_revision_id} does not undo its upgrade(); "
                f"to be back where it started it would still need:\n{format_diff(diff)}"
            )


def migrate(action: Callable[[Config, str], None], config: Config, target: str) -> None:
    """Run `flask db upgrade|downgrade <target>` in process; name the migration that failed."""
    try:
        action(config, target)
    except CheckError:
        raise
    except Exception as exc:
        raise CheckError(f"{raised_in(exc)}: {type(exc).__name__}: {exc}") from exc


def raised_in(exc: BaseException) -> str:
    # Alembic runs all revisions in one call; the traceback knows whose code raised.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.parent == VERSIONS_DIR:
            return f"{frame.name}() in {path.name} line {frame.lineno}"
    return "alembic"


def check_no_drift() -> None:
    """The comparison tests/foundation/test_migrations.py makes, here on a database rebuilt by
    upgrade after a full downgrade."""
    with db.engine.connect() as connection:
        diff = schema_diff(connection, db.metadata)
    if diff:
        raise CheckError(
            'models and migrations differ; write a migration (make migration m="..."):\n'
            + format_diff(diff)
        )


def schema_diff(connection: Connection, metadata: MetaData) -> list[Any]:
    """What autogenerate would change to turn the database into `metadata`."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


def format_diff(diff: list[Any]) -> str:
    return "\n".join(f"          {change}" for change in diff)


if __name__ == "__main__":
    sys.exit(main())
