"""Supplier Portal: create_app() assembles config, extensions, blueprints and CLI commands."""

from __future__ import annotations

from typing import Any

from flask import Flask

import config as config_module


def create_app(env: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the portal. No I/O happens here beyond reading configuration."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR))
    app.config.from_object(config_module.load(env))
    app.config.update(overrides or {})
    config_module.check_production(app.config)

    _init_logging(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _init_logging(app: Flask) -> None:
    from app import logs

    logs.init_app(app)


def _init_extensions(app: Flask) -> None:
    from app import crypto, jobs
    from app.accounts import sessions
    from app.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.BASE_DIR / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    sessions.init_app(app)
    crypto.init_app(app)
    jobs.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app import errors
    from app.accounts.views import bp as accounts_bp
    from app.admin.views import bp as admin_bp
    from app.finance.views import bp as finance_bp
    from app.ops.views import bp as ops_bp
    from app.suppliers.views import bp as suppliers_bp

    errors.init_app(app)
    for blueprint in (accounts_bp, ops_bp, admin_bp, finance_bp, suppliers_bp):
        app.register_blueprint(blueprint)


def _register_cli(app: Flask) -> None:
    from app.cli import register

    register(app)
