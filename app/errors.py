"""Error pages for browsers and problem+json for API and machine callers, in one place."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from app.problems import problem


def wants_problem_json() -> bool:
    """API paths and clients that prefer JSON get problem+json instead of an HTML page."""
    if request.path.startswith(("/api/", "/oauth/", "/.well-known/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = "Your form expired or was sent from another site. Reload the page and try again."
        if wants_problem_json():
            return problem(400, message, type_="csrf")
        return render_template(
            "errors/error.html", code=400, title="Form expired", message=message
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        if wants_problem_json():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return problem(code, error.description or "", headers=headers)
        return render_template(
            "errors/error.html", code=code, title=error.name, message=error.description
        ), code

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        if not error.connection_invalidated:
            return unexpected_error(error)
        # The pooled connection had died (a database restart or failover): SQLAlchemy has
        # dropped the pool, so the retry gets a fresh connection. Nothing was committed.
        app.logger.warning("database connection lost; the pool was reset", exc_info=error)
        message = "The connection to the database was lost and has been reset; nothing was saved."
        headers = {"Retry-After": "1"}
        if wants_problem_json():
            return problem(
                503, message + " Retry the request.", type_="database-reconnected", headers=headers
            )
        page = render_template(
            "errors/error.html", code=503, title="Please try again", message=message
        )
        return page, 503, headers

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error")
        message = "Something went wrong on our side. It has been logged; please try again."
        if wants_problem_json():
            return problem(500, message)
        return render_template(
            "errors/error.html", code=500, title="Server error", message=message
        ), 500
