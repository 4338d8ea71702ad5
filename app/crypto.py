"""Encryption at rest for secrets and bank data (MultiFernet: newest key first, old keys read)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class DecryptionError(RuntimeError):
    pass


def _fernet() -> MultiFernet:
    return current_app.extensions["fernet"]


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "value was encrypted with a key that is no longer configured"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (used by `flask keys rotate`)."""
    return _fernet().rotate(token.encode()).decode()


class EncryptedString(TypeDecorator):
    """A string column stored encrypted; reads and writes plaintext in Python."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return encrypt(value) if value is not None else None

    def process_result_value(self, value, dialect):
        return decrypt(value) if value is not None else None


def mask(value: str | None, visible: int = 4) -> str:
    if not value:
        return ""
    return "•" * max(len(value) - visible, 3) + value[-visible:]


def init_app(app: Flask) -> None:
    keys = app.config["ENCRYPTION_KEYS"]
    app.extensions["fernet"] = MultiFernet([Fernet(k) for k in keys])
