"""The one place where intake's domain errors become problem+json answers of the partner API."""

from __future__ import annotations

from flask import Blueprint

from app.documents.queries import BadCursorError
from app.formats import EnvelopeError
from app.intake.idempotency import IdempotencyError
from app.problems import problem

# Envelope codes that have a more precise status than 400.
ENVELOPE_STATUS = {"unsupported_media_type": 415, "too_large": 413}


class BadParameterError(ValueError):
    """A query parameter or header the API cannot use; `name` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def envelope_problem(error: EnvelopeError):
    status = ENVELOPE_STATUS.get(error.code, 400)
    return problem(
        status,
        str(error),  # the message and, when known, where: "... (at line 3)"
        type_=error.code.replace("_", "-"),
        title="The payload cannot be read",
        errors=[error.as_dict()],
    )


def register(bp: Blueprint) -> None:
    @bp.errorhandler(EnvelopeError)
    def _envelope(error: EnvelopeError):
        return envelope_problem(error)

    @bp.errorhandler(IdempotencyError)
    def _idempotency(error: IdempotencyError):
        headers = {"Retry-After": "1"} if error.status == 409 else None
        return problem(error.status, error.detail, type_=error.slug, headers=headers)

    @bp.errorhandler(BadCursorError)
    def _cursor(error: BadCursorError):
        return problem(400, str(error), type_="invalid-parameter", parameter="cursor")

    @bp.errorhandler(BadParameterError)
    def _parameter(error: BadParameterError):
        return problem(400, error.message, type_="invalid-parameter", parameter=error.name)
