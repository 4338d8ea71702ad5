"""Client ids and secrets: how they are made and how a presented secret is checked (pure).

Secrets are 256 random bits, so a plain SHA-256 is enough to make a stolen hash useless: a slow
hash such as argon2 protects guessable passwords, and would only add its cost (and a way to burn
CPU) to every token request here without making a 256-bit secret any harder to find.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CLIENT_ID_PREFIX = "cl_"
# A recognisable prefix lets secret scanners (and people) spot a leaked secret.
SECRET_PREFIX = "cs_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + secrets.token_urlsafe(15)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def hint(secret: str) -> str:
    """The last four characters, shown so an admin can tell two secrets apart."""
    return secret[-4:]
