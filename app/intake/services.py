"""The submission use case: whatever way a payload arrives (the partner API, a supplier's upload,
a PO flip), it is split into documents, each is given its supplier, and the payload and one
RECEIVED document per document found in it are stored with the outbox entry for its first job.

It runs in the caller's transaction (the API handler or the portal view commits once). The
request only splits and identifies: canonical models are built once, by the normalize job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.accounts.models import User
from app.canonical.field_errors import printable
from app.documents import transitions
from app.documents.models import Channel, DocumentKind
from app.documents.transitions import Actor, Received
from app.formats import Identified, SplitResult, split
from app.intake import repeats
from app.orgs.models import Organization

# Given one identified document, the organization it is for; raises to refuse the submission.
SupplierOf = Callable[[Identified], Organization]


@dataclass(frozen=True)
class Submission:
    """A payload as it arrived, with who sent it and how."""

    kind: DocumentKind
    body: bytes
    content_type: str
    sender: Organization
    channel: Channel
    client_id: int | None = None
    user: User | None = None
    filename: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Accepted:
    """What a submission became: its documents in payload order, and the format they came in."""

    documents: list[Received]
    format: str


def submit(
    submission: Submission,
    supplier_of: SupplierOf,
    actor: Actor,
    *,
    charge: Callable[[int], None] | None = None,
) -> Accepted:
    """Split the payload, give each document its supplier, refuse the bytes if the sender
    sent them before (`repeats`), charge `charge` (the API's daily quota) for the count, then
    store it all. EnvelopeError when the payload cannot be read; RepeatedPayloadError, or
    whatever `supplier_of` or `charge` raise, refuses the submission before anything is stored
    (a refused repeat costs no quota)."""
    found = split(submission.body, submission.content_type, submission.kind.value)
    suppliers = [supplier_of(document) for document in found.documents]
    sha256 = repeats.sha256_of(submission.body)
    repeats.refuse_repeat(submission.sender, sha256)
    if charge is not None:
        charge(len(found.documents))
    return Accepted(receive(submission, found, suppliers, actor, sha256), found.format)


def receive(
    submission: Submission,
    found: SplitResult,
    suppliers: Sequence[Organization | None],
    actor: Actor,
    sha256: str | None = None,
) -> list[Received]:
    """Store the payload and one RECEIVED document per identified document (same order);
    `sha256` is the body's when the caller already has it."""
    documents = [
        _new_document(submission, found, document, supplier)
        for document, supplier in zip(found.documents, suppliers, strict=True)
    ]
    reason = f"received by {submission.channel.value} as {found.format}"
    payload = _payload(submission, sha256 or repeats.sha256_of(submission.body))
    return transitions.receive(payload, documents, actor, reason)


def _payload(submission: Submission, sha256: str) -> dict[str, Any]:
    return {
        "sha256": sha256,
        "content_type": printable(submission.content_type)[:255],
        "size": len(submission.body),
        "body": submission.body,
        # Text columns: a NUL a browser or client put in a name is stored escaped.
        "filename": printable(submission.filename)[:255] if submission.filename else None,
        "channel": submission.channel,
        "sender_org_id": submission.sender.id,
        "client_id": submission.client_id,
        "user_id": submission.user.id if submission.user else None,
        "correlation_id": submission.correlation_id,
    }


def _new_document(
    submission: Submission,
    found: SplitResult,
    document: Identified,
    supplier: Organization | None,
) -> dict[str, Any]:
    """The values of a new `documents` row (`storage.DOCUMENT_COLUMNS`)."""
    return {
        "kind": submission.kind,
        "payload_index": document.index,
        "identity": document.identity[:200],
        "sender_org_id": submission.sender.id,
        "supplier_org_id": supplier.id if supplier else None,
        "client_id": submission.client_id,
        "correlation_id": submission.correlation_id,
        "source_format": found.format,
        "parser_version": found.parser_version,
    }
