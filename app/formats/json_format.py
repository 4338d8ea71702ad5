"""Canonical JSON: the models' own shape, one object or `{"documents": [...]}`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from app.formats.base import Kind, RawDocument
from app.formats.errors import EnvelopeError

VERSION = "json-1.0.0"
MAX_JSON_BYTES = 20 * 1024 * 1024
# Set by the pipeline, never by the sender: a sender cannot claim another parser's output.
SERVER_FIELDS = ("source_format", "parser_version")


def _load(payload: bytes) -> Any:
    if len(payload) > MAX_JSON_BYTES:
        raise EnvelopeError(f"JSON payload larger than {MAX_JSON_BYTES} bytes", code="too_large")
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EnvelopeError("JSON must be UTF-8", f"byte {error.start}") from None
    try:
        # Decimal, never float: 0.1 + 0.2 must stay 0.3 on an invoice.
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise EnvelopeError(
            f"not valid JSON: {error.msg}", f"line {error.lineno}, column {error.colno}"
        ) from None
    except RecursionError:
        raise EnvelopeError("JSON nested too deeply", "line 1") from None


def _documents(body: Any) -> list[tuple[str, Any]]:
    if isinstance(body, dict) and "documents" in body:
        documents = body["documents"]
        if not isinstance(documents, list) or not documents:
            raise EnvelopeError('"documents" must be a non-empty array', "$.documents")
        return [(f"documents[{index}]", item) for index, item in enumerate(documents)]
    if isinstance(body, dict):
        return [("$", body)]
    raise EnvelopeError('expected a JSON object or {"documents": [...]}', "$")


def _raw(pointer: str, item: Any) -> RawDocument:
    if not isinstance(item, dict):
        raise EnvelopeError("each document must be a JSON object", pointer)
    data = {key: value for key, value in item.items() if key not in SERVER_FIELDS}
    number = data.get("invoice_number") or data.get("ack_number") or "(no number)"
    if pointer == "$":  # the whole body: named like the other formats name a document
        noun = "acknowledgment" if "ack_number" in data else "invoice"
        return RawDocument(data, f"{noun} {number}")
    return RawDocument(data, f"{pointer} {number}")


def parse(payload: bytes, kind: Kind) -> list[RawDocument]:
    del kind  # the canonical shape is the same whatever the endpoint; the model decides
    return [_raw(pointer, item) for pointer, item in _documents(_load(payload))]
