"""Supplier Portal: create_app() assembles config, extensions, blueprints and CLI commands."""

from __future__ import annotations

from typing import Any

from flask import Flask

import config as config_module
from app import db, routing


def create_app(env: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the portal. No I/O happens here beyond reading configuration."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR))
    app.config.from_object(config_module.load(env))
    app.config.update(overrides or {})
    config_module.check_production(app.config)
    routing.init_app(app)  # before any route: <int:...> ids match only 1..2**31-1

    _init_logging(app)
    _init_security_headers(app)
    _init_extensions(app)
    _init_metrics(app)
    _register_blueprints(app)
    _serve_favicon(app)
    _register_cli(app)
    db.wrap_views(app)  # last: every view, whichever blueprint added it, commits at its edge
    return app


def _serve_favicon(app: Flask) -> None:
    """Browsers (and tools) ask for /favicon.ico whatever the page links: answer with ours."""
    app.add_url_rule(
        "/favicon.ico",
        "favicon",
        lambda: app.send_static_file("favicon.svg"),
    )


def _init_logging(app: Flask) -> None:
    from app import logs

    logs.init_app(app)


def _init_security_headers(app: Flask) -> None:
    from app import headers

    headers.init_app(app)


def _init_metrics(app: Flask) -> None:
    from app.ops import metrics

    metrics.init_app(app)


def _init_extensions(app: Flask) -> None:
    from app import crypto, jobs, throttling
    from app.accounts import sessions
    from app.db import end_sessions_quietly
    from app.extensions import csrf, db, login_manager, migrate
    from app.federation import sign_in as federation_sign_in
    from app.oauth import client_changes
    from app.webhooks import events as webhook_events

    db.init_app(app)
    end_sessions_quietly(app)  # after Flask-SQLAlchemy's teardown, so it runs first
    migrate.init_app(app, db, directory=str(config_module.BASE_DIR / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    sessions.init_app(app)
    crypto.init_app(app)
    jobs.init_app(app, factory=create_app)  # a worker process makes its app this way
    throttling.init_app(app)
    client_changes.init_app(app)  # committed client changes reach every process's token check
    federation_sign_in.init_app(app)  # company sign-in on the accounts pages
    webhook_events.init_app()  # document changes owe webhook messages (written in their transaction)


def _register_blueprints(app: Flask) -> None:
    from app import errors
    from app.accounts.mfa_views import bp as mfa_bp
    from app.accounts.views import bp as accounts_bp
    from app.admin.views import bp as admin_bp
    from app.api.docs import bp as api_docs_bp
    from app.api.views import bp as partner_api_bp
    from app.api.webhooks import bp as webhooks_api_bp
    from app.federation.views import bp as federation_bp
    from app.finance.views import bp as finance_bp
    from app.holds.supplier_views import bp as holds_supplier_bp
    from app.holds.views import bp as holds_bp
    from app.intake.views import bp as intake_bp
    from app.mail.views import bp as mail_bp
    from app.matching.ack_views import bp as acknowledgments_bp
    from app.matching.views import bp as tolerances_bp
    from app.oauth.endpoints import bp as oauth_bp
    from app.oauth.views import bp as api_clients_bp
    from app.onboarding.admin_views import bp as onboarding_admin_bp
    from app.onboarding.views import bp as onboarding_bp
    from app.ops.views import bp as ops_bp
    from app.posting.views import bp as posting_bp
    from app.suppliers.views import bp as suppliers_bp
    from app.throttling.views import bp as throttling_bp
    from app.webhooks.views import bp as webhooks_bp

    errors.init_app(app)
    app.register_blueprint(throttling_bp)
    for blueprint in (accounts_bp, ops_bp, admin_bp, finance_bp, holds_bp, suppliers_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(tolerances_bp)
    app.register_blueprint(acknowledgments_bp)
    app.register_blueprint(holds_supplier_bp)
    for blueprint in (mfa_bp, federation_bp):
        app.register_blueprint(blueprint)
    for blueprint in (intake_bp, partner_api_bp, api_docs_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(oauth_bp)
    app.register_blueprint(api_clients_bp)
    for blueprint in (onboarding_bp, onboarding_admin_bp, mail_bp, posting_bp):
        app.register_blueprint(blueprint)
    for blueprint in (webhooks_bp, webhooks_api_bp):
        app.register_blueprint(blueprint)


def _register_cli(app: Flask) -> None:
    """Every package's commands, one way: each CLI module lists its own in COMMANDS."""
    from app import cli
    from app.documents import cli as documents_cli
    from app.keys_cli import keys_cli
    from app.oauth import cli as oauth_cli
    from app.onboarding import cli as onboarding_cli
    from app.posting import cli as posting_cli

    # posting_cli adds `reconcile` to the documents group, so it is imported before adding it.
    for module in (cli, onboarding_cli, oauth_cli, posting_cli, documents_cli):
        for command in module.COMMANDS:
            app.cli.add_command(command)
    # The shared `keys` group last, after every module that adds to it was imported.
    app.cli.add_command(keys_cli)
