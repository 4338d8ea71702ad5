"""The normalize stage: a RECEIVED document's stored payload becomes its versioned canonical
model (NORMALIZED), or the document is REJECTED with every error found in it.

The stored payload is parsed again here, in the job, rather than carried from the request: the
request only split the payload and identified its documents.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from app.canonical import Acknowledgment, Invoice
from app.canonical.field_errors import FieldError
from app.documents import outbox
from app.documents.models import Document, DocumentState
from app.documents.transitions import transition
from app.formats import DocumentResult, EnvelopeError, ParseResult, parse
from app.pipeline import NORMALIZE

SYSTEM = "system"


def normalize(document: Document) -> DocumentState:
    """RECEIVED → NORMALIZED or REJECTED; any other state is left alone (a repeated job)."""
    if document.state == DocumentState.RECEIVED:
        try:
            result = _document_result(document)
        except EnvelopeError as error:
            _reject(document, [FieldError("$", str(error), error.code).as_dict()])
        else:
            _apply(document, result)
    outbox.complete(document.id, NORMALIZE)
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
