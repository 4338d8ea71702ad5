"""The shape of one document-level problem, shared by the models and every parser."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with a document, named by its canonical path (`lines[2].quantity`)."""

    path: str
    message: str
    code: str

    def as_dict(self) -> dict[str, str]:
        """The error as stored (jsonb) and answered: a NUL the sender put in a key or a value
        echoed in a message is written as the escape `\\u0000`, which jsonb can hold."""
        return {
            "path": printable(self.path),
            "message": printable(self.message),
            "code": printable(self.code),
        }


def printable(text: str) -> str:
    """`text` with U+0000 written as `\\u0000`: PostgreSQL's text and jsonb refuse the
    character itself."""
    return text.replace("\x00", "\\u0000")


def format_path(loc: tuple[str | int, ...]) -> str:
    """Turn a pydantic location tuple into `lines[2].quantity`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "$"


class FieldErrors(Exception):  # noqa: N818 - the name the API contract uses
    """Every problem found in one document; the document is REJECTED with all of them."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))
        self.errors = errors

    def as_list(self) -> list[dict[str, str]]:
        return [error.as_dict() for error in self.errors]
