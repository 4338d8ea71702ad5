"""The two ways a payload fails: the envelope is garbage (400), or a document in it is wrong."""

from __future__ import annotations

from app.canonical.field_errors import FieldError, FieldErrors

__all__ = ["EnvelopeError", "FieldError", "FieldErrors"]


class EnvelopeError(Exception):
    """The payload cannot be read as the format it claims, or carries a document type this
    endpoint does not take. Nothing in it is stored as a document; the API answers 400.

    `location` points into the payload in the format's own terms: "line 3, column 7",
    "segment 12 (IT1)", an XPath, "row 4".
    """

    def __init__(self, message: str, location: str | None = None, code: str = "malformed"):
        super().__init__(f"{message} (at {location})" if location else message)
        self.message = message
        self.location = location
        self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"message": self.message, "location": self.location, "code": self.code}


def not_accepted(what: str, kind: str, location: str | None = None) -> EnvelopeError:
    """The shared wording for a well-formed document of a type this endpoint does not take."""
    return EnvelopeError(
        f"{what} is not accepted here: this endpoint takes {kind} documents",
        location,
        code="document_type_not_accepted",
    )
