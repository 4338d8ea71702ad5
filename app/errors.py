"""The one place where errors become answers: an error page for browsers, problem+json for API
and machine callers. Domain errors that reach a request's edge are listed in DOMAIN_ERRORS with
how each is answered; the packages that raise them know nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from app.accounts.mfa import MfaError
from app.accounts.services import AccountError
from app.api.errors import BadParameterError
from app.documents.queries import BadCursorError
from app.documents.transitions import InvalidTransition
from app.federation.break_glass import BreakGlassError
from app.federation.services import ProviderConfigError
from app.formats import EnvelopeError
from app.intake.encoding import ACCEPT_ENCODING
from app.intake.flip import FlipError
from app.intake.idempotency import IdempotencyError
from app.matching.tolerance_templates import ToleranceTemplateError
from app.oauth.resource import ApiForbidden
from app.oauth.services import ClientError
from app.onboarding.errors import OnboardingError
from app.problems import problem
from app.throttling.body import BodyTooLarge, body_too_large
from app.throttling.services import ThrottlingError
from app.webhooks.services import WebhookError

# Envelope codes that have a more precise status than 400.
ENVELOPE_STATUS = {"unsupported_media_type": 415, "unsupported_encoding": 415, "too_large": 413}


@dataclass(frozen=True)
class Answer:
    """How one domain error is answered."""

    status: int
    detail: str
    slug: str
    title: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _envelope(error: EnvelopeError) -> Answer:
    return Answer(
        ENVELOPE_STATUS.get(error.code, 400),
        str(error),  # the message and, when known, where: "... (at line 3)"
        error.code.replace("_", "-"),
        title="The payload cannot be read",
        # RFC 7694: a 415 for a content coding names the codings that are accepted.
        headers={"Accept-Encoding": ACCEPT_ENCODING}
        if error.code == "unsupported_encoding"
        else {},
        extra={"errors": [error.as_dict()]},
    )


def _idempotency(error: IdempotencyError) -> Answer:
    headers = {"Retry-After": "1"} if error.status == 409 else {}
    return Answer(error.status, error.detail, error.slug, headers=headers)


def _cursor(error: BadCursorError) -> Answer:
    return Answer(400, str(error), "invalid-parameter", extra={"parameter": "cursor"})


def _parameter(error: BadParameterError) -> Answer:
    return Answer(400, error.message, "invalid-parameter", extra={"parameter": error.name})


def _forbidden(error: ApiForbidden) -> Answer:
    return Answer(403, error.detail, "not-permitted")


def _refused(status: int, slug: str) -> Callable[[Exception], Answer]:
    """A refused action whose message is written for the person who asked: shown as it is.
    Views usually catch these to show them beside the form; one that escapes still gets its
    message and a 4xx, never a 500."""
    return lambda error: Answer(status, str(error), slug, title="That cannot be done")


DOMAIN_ERRORS: dict[type[Exception], Callable[[Any], Answer]] = {
    EnvelopeError: _envelope,
    IdempotencyError: _idempotency,
    BadCursorError: _cursor,
    BadParameterError: _parameter,
    ApiForbidden: _forbidden,
    InvalidTransition: _refused(409, "invalid-transition"),
    OnboardingError: _refused(400, "refused"),
    ThrottlingError: _refused(400, "refused"),
    ClientError: _refused(400, "refused"),
    ProviderConfigError: _refused(400, "refused"),
    BreakGlassError: _refused(400, "refused"),
    AccountError: _refused(400, "refused"),
    MfaError: _refused(400, "refused"),
    FlipError: _refused(400, "refused"),
    ToleranceTemplateError: _refused(400, "refused"),
    WebhookError: _refused(400, "refused"),
}


def _answer(answer: Answer) -> Response | tuple[str, int, dict[str, str]]:
    if wants_problem_json():
        return problem(
            answer.status,
            answer.detail,
            type_=answer.slug,
            title=answer.title,
            headers=answer.headers,
            **answer.extra,
        )
    page = render_template(
        "errors/error.html",
        code=answer.status,
        title=answer.title or "That did not work",
        message=answer.detail,
    )
    return page, answer.status, answer.headers


# Our own words where werkzeug would use its stock sentence (an abort() without a message, or
# an address no route matches).
OUR_WORDS: dict[int, tuple[str, str]] = {
    400: (
        "That request did not work",
        "The page could not read what was sent. Go back and try again.",
    ),
    403: (
        "Not for this account",
        "Your account may not open this page. If you think it should, ask your organization's administrator.",
    ),
    404: (
        "Page not found",
        "There is nothing at this address. The link may be old or mistyped, or what it pointed to belongs to another organization.",
    ),
    405: (
        "Not available this way",
        "This address does not take that kind of request. Open it from a link in the portal instead.",
    ),
}


def in_our_words(error: HTTPException) -> tuple[str, str]:
    """(title, message) for an HTTP error: the message given at abort(), else ours."""
    stock = error.description == type(error).description or not error.description
    title, message = OUR_WORDS.get(error.code or 500, (error.name, error.description or ""))
    return (title, message) if stock else (error.name, error.description or "")


def wants_problem_json() -> bool:
    """API paths and clients that prefer JSON get problem+json instead of an HTML page."""
    if request.path.startswith(("/api/", "/oauth/", "/.well-known/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def init_app(app: Flask) -> None:
    for error_class, describe in DOMAIN_ERRORS.items():
        app.register_error_handler(error_class, lambda error, d=describe: _answer(d(error)))
    app.register_error_handler(BodyTooLarge, lambda error: body_too_large(error.limit))

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
        title, message = in_our_words(error)
        if wants_problem_json():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return problem(code, message, headers=headers)
        return render_template("errors/error.html", code=code, title=title, message=message), code

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
