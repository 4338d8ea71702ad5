"""The same payload sent twice is refused at intake: the same bytes (their sha256) from the same
sender as a document that was not rejected would otherwise be stored again and only held as a
DUPLICATE at validation. A rejected document's bytes may be sent again (the number rule lets a
rejected invoice's number be reused too), and an Idempotency-Key retry never reaches this check:
it is answered with the first answer before intake runs.

The lookup reads `ix_raw_payloads_sha256` and `ix_documents_payload_id`. On PostgreSQL the same
statement takes a transaction-scoped advisory lock on (sender, sha256), so two copies sent at
the same moment cannot both be stored: the second is told the first is still being received.
As in app.intake.idempotency, a twin that commits between the statement's start and its lock
is not seen; validation's DUPLICATE rule still holds such a copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Row, text

from app.db import db
from app.documents.models import DocumentKind, DocumentState
from app.orgs.models import Organization

# Namespace of the two-int advisory lock; any constant other than idempotency's.
LOCK_NAMESPACE = 7_400_011
REJECTED = DocumentState.REJECTED.value


@dataclass(frozen=True)
class Earlier:
    """The first live document of a payload received before; `name` as people call it
    ("invoice KOI-INV-0001", or where it sat in its file until its number is read)."""

    id: int
    kind: DocumentKind
    name: str
    state: DocumentState
    received_at: dt.datetime


class RepeatedPayloadError(Exception):
    """The payload was received before from the same sender; `earlier` is its document, None
    while that copy is still being received."""

    def __init__(self, earlier: Earlier | None) -> None:
        super().__init__(explain(earlier))
        self.earlier = earlier


def sha256_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def refuse_repeat(sender: Organization, sha256: str) -> None:
    """RepeatedPayloadError when `sender` already sent these bytes and they were not rejected."""
    if db.session.get_bind().dialect.name == "postgresql":
        row = _locked_earlier(sender.id, sha256)
    else:  # SQLite runs one writer at a time: a concurrent copy waits, then finds the first
        row = db.session.execute(EARLIER, {"sender": sender.id, "sha256": sha256}).first()
    if row is not None and row.id is not None:
        raise RepeatedPayloadError(_earlier(row))


def explain(earlier: Earlier | None) -> str:
    """What the sender reads: which document it was, and what to do instead."""
    if earlier is None:
        return "The same file is being received from you at this moment; it is stored once."
    what = (
        "to change the invoice, send a corrected invoice with a new invoice number"
        if earlier.kind == DocumentKind.INVOICE
        else "to change your answer, send a new acknowledgment"
    )
    return (
        f"This exact file was already received on {earlier.received_at.date().isoformat()} as "
        f"{earlier.name} (document {earlier.id}); it was not stored again. If it was sent twice "
        f"by mistake, nothing needs doing; {what}."
    )


# The first live document of an earlier payload with these bytes from this sender, by id so the
# answer is stable; REJECTED ones do not count.
_EARLIER = (
    "SELECT d.id, d.kind, d.state, d.document_number, d.identity, p.received_at"
    " FROM raw_payloads AS p JOIN documents AS d ON d.payload_id = p.id"
    " WHERE p.sha256 = :sha256 AND p.sender_org_id = :sender AND d.state <> :rejected"
    " ORDER BY d.id LIMIT 1"
)
EARLIER = text(_EARLIER).bindparams(rejected=REJECTED)
# The lock and the lookup in one round trip (intake is the hot path): a one-row LEFT JOIN, so
# the lock is taken exactly once whether or not an earlier copy exists.
LOCKED_EARLIER = text(
    "SELECT pg_try_advisory_xact_lock(:namespace, :lock) AS taken, e.*"  # noqa: S608 (constants)
    " FROM (SELECT 1) AS one LEFT JOIN (" + _EARLIER + ") AS e ON true"
).bindparams(namespace=LOCK_NAMESPACE, rejected=REJECTED)


def _locked_earlier(sender_id: int, sha256: str) -> Row | None:
    row = db.session.execute(
        LOCKED_EARLIER, {"lock": lock_key(sender_id, sha256), "sender": sender_id, "sha256": sha256}
    ).one()
    if not row.taken:
        raise RepeatedPayloadError(None)
    return row


def _earlier(row: Row) -> Earlier:
    return Earlier(
        id=row.id,
        kind=DocumentKind(row.kind),
        name=f"{row.kind} {row.document_number}" if row.document_number else row.identity,
        state=DocumentState(row.state),
        received_at=_aware(row.received_at),
    )


def _aware(value: dt.datetime | str) -> dt.datetime:
    """SQLite hands a text column back through text(); PostgreSQL a datetime."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def lock_key(sender_id: int, sha256: str) -> int:
    """A signed 32-bit number for the advisory lock; a collision only costs a spurious 409."""
    digest = hashlib.sha256(f"{sender_id}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)
