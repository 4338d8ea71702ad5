"""Decide which wire format a payload is in: trust a specific Content-Type, sniff the bytes
when the type is generic or missing, and refuse a payload that contradicts its declared type."""

from __future__ import annotations

from typing import Literal

from app.formats.errors import EnvelopeError

Family = Literal["json", "xml", "x12", "csv"]

DECLARED: dict[str, Family] = {
    "application/json": "json",
    "text/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/edi-x12": "x12",
    "application/x12": "x12",
    "text/csv": "csv",
    "application/csv": "csv",
}
GENERIC = {"", "application/octet-stream", "text/plain", "application/x-www-form-urlencoded"}
SNIFF_BYTES = 4096
BOM = b"\xef\xbb\xbf"


def media_type(content_type: str | None) -> str:
    """`Application/XML; charset=utf-8` -> `application/xml`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _declared(kind: str) -> Family | None:
    if kind in DECLARED:
        return DECLARED[kind]
    if kind.endswith("+xml"):
        return "xml"
    if kind.endswith("+json"):
        return "json"
    return None


def sniff(payload: bytes) -> Family | None:
    """The format the bytes look like, judging by how they start; None when nothing fits."""
    head = payload[:SNIFF_BYTES].removeprefix(BOM).lstrip()
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"<"):
        return "xml"
    if head[:3].upper() == b"ISA":
        return "x12"
    first_line = head.split(b"\n", 1)[0]
    if b"," in first_line or b";" in first_line:
        return "csv"
    return None


def detect(payload: bytes, content_type: str | None) -> Family:
    """The format family to parse `payload` as, or EnvelopeError saying why none fits."""
    kind = media_type(content_type)
    declared = _declared(kind)
    sniffed = sniff(payload)
    if declared is None and kind not in GENERIC:
        raise EnvelopeError(
            f"content type {kind!r} is not supported", "Content-Type", "unsupported_media_type"
        )
    if declared is None:
        if sniffed is None:
            raise EnvelopeError(
                "cannot tell the format of this payload", "byte 0", "unknown_format"
            )
        return sniffed
    # Only a payload that clearly looks like another format contradicts its declared type:
    # CSV has no signature, and a truncated payload may look like nothing at all.
    if sniffed is not None and sniffed != declared:
        raise EnvelopeError(
            f"declared {kind} but the payload looks like {sniffed}", "byte 0", "wrong_content_type"
        )
    return declared
