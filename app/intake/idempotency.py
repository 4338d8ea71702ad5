"""Idempotency-Key for intake: a retried submission gets the first answer, never a second copy.

Per client, a key is answered once and the answer kept for INTAKE_IDEMPOTENCY_HOURS (24 by
default). The answer row is written in the same transaction as the documents, so the key
exists exactly when they do. While the first request with a key is still running, a
transaction-scoped advisory lock on the key is held: a concurrent retry cannot take it and is
told 409 instead of waiting or creating a duplicate. A crash simply releases the lock.

On PostgreSQL the lock is taken and the stored answer read in one statement (intake is the hot
path). That statement reads the table as it was when it began, so a twin that commits between
its start and the lock is not seen; such a request then fails on the unique (client, key) row
when it stores its own answer, its transaction is rolled back whole, and it is told 409 too:
its retry gets the first answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Row, delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from app.db import db, table_of, utcnow
from app.intake.models import IdempotencyKey

HEADER = "Idempotency-Key"
DEFAULT_RETENTION_HOURS = 24
# Namespace of the two-int advisory lock; any constant, the same in every process.
LOCK_NAMESPACE = 7_400_007
# Visible ASCII, as the IETF Idempotency-Key draft and common practice (UUIDs, ULIDs) use.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyError(Exception):
    status = 400
    slug = "idempotency-key"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class KeyMalformedError(IdempotencyError):
    status = 400


class KeyInFlightError(IdempotencyError):
    status = 409
    slug = "idempotency-key-in-flight"


class KeyReusedError(IdempotencyError):
    status = 422
    slug = "idempotency-key-reused"


@dataclass(frozen=True)
class Answer:
    """A response as it can be stored and replayed."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def key_from(headers: Any) -> str | None:
    """The request's key, None when absent; KeyMalformedError when present but unusable."""
    raw = headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not KEY_PATTERN.match(key):
        raise KeyMalformedError(f"{HEADER} must be 1 to 255 visible ASCII characters")
    return key


def fingerprint(*parts: str | bytes | None) -> str:
    """sha256 over everything that makes two requests "the same request"."""
    digest = hashlib.sha256()
    for part in parts:
        value = part if isinstance(part, bytes) else (part or "").encode()
        digest.update(len(value).to_bytes(8, "big") + value)
    return digest.hexdigest()


def retention() -> dt.timedelta:
    hours = current_app.config.get("INTAKE_IDEMPOTENCY_HOURS", DEFAULT_RETENTION_HOURS)
    return dt.timedelta(hours=max(int(hours), DEFAULT_RETENTION_HOURS))


def claim(client_id: int, key: str, request_hash: str) -> Answer | None:
    """Take the key for this transaction: the stored answer to replay, or None to go ahead."""
    row = _locked_row(client_id, key)
    if row is None:
        return None
    if row.expires_at <= utcnow():
        table = table_of(IdempotencyKey)
        db.session.execute(delete(table).where(table.c.id == row.id))
        return None
    if row.request_hash != request_hash:
        raise KeyReusedError(f"this {HEADER} was already used with a different request")
    return Answer(row.response_status, row.response_body, row.response_headers)


# The key's lock and its stored answer in one round trip: a one-row LEFT JOIN, so the lock is
# taken exactly once whether or not an answer is stored. Made once; it is intake's hot path.
LOCKED_ROW = text(
    "SELECT pg_try_advisory_xact_lock(:namespace, :lock) AS taken, k.id, k.request_hash,"
    " k.response_status, k.response_body, k.response_headers, k.expires_at"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN idempotency_keys AS k ON k.client_id = :client_id AND k.key = :key"
)


def _locked_row(client_id: int, key: str) -> Row | None:
    """The stored answer's row, once this transaction holds the key's lock (KeyInFlightError
    when another one does)."""
    # SQLite has no advisory locks, but it runs one writer at a time, so a concurrent retry
    # waits for the first and then finds its answer.
    if db.session.get_bind().dialect.name != "postgresql":
        table = table_of(IdempotencyKey)
        return db.session.execute(
            select(table).where(table.c.client_id == client_id, table.c.key == key)
        ).first()
    row = db.session.execute(
        LOCKED_ROW,
        {
            "namespace": LOCK_NAMESPACE,
            "lock": lock_key(client_id, key),
            "client_id": client_id,
            "key": key,
        },
    ).one()
    if not row.taken:
        raise _in_flight()
    return row if row.id is not None else None


def _in_flight() -> KeyInFlightError:
    return KeyInFlightError(f"a request with this {HEADER} is still being processed; retry shortly")


REMEMBER = insert(table_of(IdempotencyKey))


def remember(client_id: int, key: str, request_hash: str, answer: Answer) -> None:
    """Store the answer in the current transaction (the caller commits with the documents)."""
    now = utcnow()
    row = {
        "client_id": client_id,
        "key": key,
        "request_hash": request_hash,
        "response_status": answer.status,
        "response_body": answer.body,
        "response_headers": answer.headers,
        "created_at": now,
        "expires_at": now + retention(),
    }
    try:
        db.session.execute(REMEMBER, row)
    except IntegrityError as exc:  # a twin committed it meanwhile (see the module docstring)
        raise _in_flight() from exc


def purge_expired(now: dt.datetime | None = None) -> int:
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
    )
    return cast(CursorResult, result).rowcount or 0


def lock_key(client_id: int, key: str) -> int:
    """A signed 32-bit number for the advisory lock; a collision only costs a spurious 409."""
    digest = hashlib.sha256(f"{client_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)
