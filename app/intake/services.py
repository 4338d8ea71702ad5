"""Intake and normalization use cases: store what arrived, then turn it into canonical documents.

Intake runs in the caller's transaction (the API handler or the portal view commits once):
the raw payload with its sha256, one RECEIVED document per document found in it, and an outbox
entry each for the normalize job. Normalization, in its job, re-reads the stored payload and
either saves the canonical model or rejects the document with every error it has.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.canonical import Acknowledgment, Invoice
from app.db import db
from app.formats import DocumentResult, EnvelopeError, ParseResult, parse
from app.intake import outbox, transitions
from app.intake.models import Channel, Document, DocumentKind, DocumentState
from app.intake.transitions import Actor, Received, transition
from app.orgs.models import Organization

SYSTEM = "system"


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


def read(submission: Submission) -> ParseResult:
    """Split the payload into documents; EnvelopeError when it cannot be read at all."""
    return parse(submission.body, submission.content_type, submission.kind.value)


def receive(
    submission: Submission,
    parsed: ParseResult,
    suppliers: Sequence[Organization | None],
    actor: Actor,
) -> list[Received]:
    """Store the payload and one RECEIVED document per parsed document (same order)."""
    documents = [
        _new_document(submission, parsed, result, supplier)
        for result, supplier in zip(parsed.documents, suppliers, strict=True)
    ]
    reason = f"received by {submission.channel.value} as {parsed.format}"
    return transitions.receive(_payload(submission), documents, actor, reason)


def _payload(submission: Submission) -> dict[str, Any]:
    return {
        "sha256": hashlib.sha256(submission.body).hexdigest(),
        "content_type": submission.content_type[:255],
        "size": len(submission.body),
        "body": submission.body,
        "filename": submission.filename[:255] if submission.filename else None,
        "channel": submission.channel,
        "sender_org_id": submission.sender.id,
        "client_id": submission.client_id,
        "user_id": submission.user.id if submission.user else None,
        "correlation_id": submission.correlation_id,
    }


def _new_document(
    submission: Submission,
    parsed: ParseResult,
    result: DocumentResult,
    supplier: Organization | None,
) -> dict[str, Any]:
    """The values of a new `documents` row (`storage.DOCUMENT_COLUMNS`)."""
    return {
        "kind": submission.kind,
        "payload_index": result.index,
        "identity": result.identity[:200],
        "sender_org_id": submission.sender.id,
        "supplier_org_id": supplier.id if supplier else None,
        "client_id": submission.client_id,
        "correlation_id": submission.correlation_id,
        "source_format": parsed.format,
        "parser_version": parsed.parser_version,
    }


# -- normalization -------------------------------------------------------------------------


def normalize(document: Document) -> DocumentState:
    """RECEIVED → NORMALIZED or REJECTED; any other state is left alone (a repeated job)."""
    if document.state == DocumentState.RECEIVED:
        try:
            result = _document_result(document)
        except EnvelopeError as error:
            _reject(document, [{"path": "$", "message": str(error), "code": error.code}])
        else:
            _apply(document, result)
    outbox.complete(document.id, "normalize")
    return document.state


def _apply(document: Document, result: DocumentResult) -> None:
    if result.document is None:
        _reject(document, result.errors.as_list() if result.errors else [])
        return
    _store_canonical(document, result.document)
    reason = f"normalized by {result.document.parser_version}"
    transition(document, DocumentState.NORMALIZED, SYSTEM, reason)


def _reject(document: Document, errors: list[dict[str, str]]) -> None:
    document.errors = errors
    noun = "problem" if len(errors) == 1 else "problems"
    transition(
        document,
        DocumentState.REJECTED,
        SYSTEM,
        f"{len(errors)} {noun} found; nothing was sent on",
        details={"errors": len(errors)},
    )


def _store_canonical(document: Document, model: Invoice | Acknowledgment) -> None:
    document.canonical = model.model_dump(mode="json")
    document.source_format = model.source_format
    document.parser_version = model.parser_version
    if isinstance(model, Invoice):
        document.document_number = model.invoice_number
        document.po_number = model.po_number or _first_line_po(model)
        document.currency = model.currency
        document.total_amount = model.totals.payable
    else:
        document.document_number = model.ack_number
        document.po_number = model.po_number
        document.currency = model.currency


def _first_line_po(invoice: Invoice) -> str | None:
    return next((line.po_number for line in invoice.lines if line.po_number), None)


def _document_result(document: Document) -> DocumentResult:
    result = _parsed_payload(document)
    if document.payload_index >= len(result.documents):
        raise RuntimeError(f"payload {document.payload_id} no longer holds document {document.id}")
    found = result.documents[document.payload_index]
    if found.identity[:200] != document.identity:
        raise RuntimeError(
            f"payload {document.payload_id} now splits differently: "
            f"{found.identity!r} where {document.identity!r} was received"
        )
    return found


# A payload of many documents gets one job per document; parsing it once per worker instead
# of once per job keeps a 500-invoice CSV linear rather than quadratic.
_PARSED_CACHE_SIZE = 8
_parsed: OrderedDict[tuple[int, str], ParseResult] = OrderedDict()
_parsed_lock = threading.Lock()


def _parsed_payload(document: Document) -> ParseResult:
    payload = document.payload
    cache_key = (payload.id, payload.sha256)
    with _parsed_lock:
        if cache_key in _parsed:
            _parsed.move_to_end(cache_key)
            return _parsed[cache_key]
    result = parse(payload.body, payload.content_type, document.kind.value)
    if len(result.documents) == 1:
        return result  # no sibling job will ask for it again
    with _parsed_lock:
        _parsed[cache_key] = result
        while len(_parsed) > _PARSED_CACHE_SIZE:
            _parsed.popitem(last=False)
    return result


def locked_document(document_id: int) -> Document | None:
    """The document, row-locked for this transaction so two runs of a job cannot interleave."""
    return db.session.scalar(
        select(Document).where(Document.id == document_id).with_for_update(of=Document)
    )
