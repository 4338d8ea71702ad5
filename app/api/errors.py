"""Errors of the partner API's own making (how they are answered is decided in app/errors.py)."""

from __future__ import annotations


class BadParameterError(ValueError):
    """A query parameter or header the API cannot use; `name` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
