"""Normalization: one parser per wire format, each turning a payload into canonical documents.

Two entry points. `split()` is what a request needs: the documents a payload holds, how each
names itself and its supplier, without building canonical models. `parse()` is what the
normalize job needs: every document as a canonical model or the FieldErrors that reject it.
Both raise EnvelopeError when the payload as a whole cannot be read (the API answers 400).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from app.canonical import Acknowledgment, FieldErrors, Invoice, build
from app.canonical.field_errors import printable
from app.formats import csv_format, cxml, json_format, ubl, x12
from app.formats.base import Kind, Parser, RawDocument
from app.formats.detect import detect
from app.formats.errors import EnvelopeError
from app.formats.xml_safety import local_name, parse_xml

__all__ = [
    "PARSERS",
    "DocumentResult",
    "EnvelopeError",
    "FieldErrors",
    "Identified",
    "ParseResult",
    "SplitResult",
    "SupplierRef",
    "parse",
    "split",
]

PARSERS: dict[str, Parser] = {
    "json": Parser("json", json_format.VERSION, json_format.parse),
    "ubl": Parser("ubl", ubl.VERSION, ubl.parse),
    "cxml": Parser("cxml", cxml.VERSION, cxml.parse),
    "x12": Parser("x12", x12.VERSION, x12.parse),
    "csv": Parser("csv", csv_format.VERSION, csv_format.parse, kinds=("invoice",)),
}


@dataclass(frozen=True)
class DocumentResult:
    """One document of a payload: its canonical model, or every error that rejects it."""

    index: int
    identity: str
    span: tuple[int, int] | None
    document: Invoice | Acknowledgment | None = None
    errors: FieldErrors | None = None

    @property
    def ok(self) -> bool:
        return self.document is not None


@dataclass(frozen=True)
class ParseResult:
    format: str
    parser_version: str
    documents: list[DocumentResult]


@dataclass(frozen=True)
class SupplierRef:
    """How a document names its supplier, read as sent (no model built): by portal id, by the
    buyer's vendor number, or by tax ids."""

    portal_id: str | None = None
    erp_vendor_number: str | None = None
    tax_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identified:
    """One document of a payload as a request sees it: where it sits and whom it is for."""

    index: int
    identity: str
    supplier: SupplierRef


@dataclass(frozen=True)
class SplitResult:
    format: str
    parser_version: str
    documents: list[Identified]


RootParser = Callable[[etree._Element, Kind], list[RawDocument]]


def _xml_parser(root: etree._Element) -> tuple[Parser, RootParser]:
    if ubl.is_ubl(root):
        return PARSERS["ubl"], ubl.parse_root
    if cxml.is_cxml(root):
        return PARSERS["cxml"], cxml.parse_root
    raise EnvelopeError(
        f"XML root element {local_name(root)} is neither UBL 2.1 nor cXML",
        f"/{local_name(root)}",
        "unknown_format",
    )


def _split(
    payload: bytes, content_type: str | None, kind: Kind
) -> tuple[Parser, list[RawDocument]]:
    parser, raws = _split_raw(payload, content_type, kind)
    # The identity is stored as text at intake, before any model refuses a NUL the sender
    # put in the number it is made of; the job compares it with the same escaped form.
    return parser, [
        dataclasses.replace(raw, identity=printable(raw.identity))
        if "\x00" in raw.identity
        else raw
        for raw in raws
    ]


def _split_raw(
    payload: bytes, content_type: str | None, kind: Kind
) -> tuple[Parser, list[RawDocument]]:
    family = detect(payload, content_type)
    if family != "xml":
        parser = PARSERS[family]
        if kind not in parser.kinds:
            raise EnvelopeError(
                f"{family} carries no {kind} documents", None, "document_type_not_accepted"
            )
        return parser, parser.parse(payload, kind)
    # XML is parsed once, safely, and the root decides between UBL and cXML.
    root = parse_xml(payload)
    parser, parse_root = _xml_parser(root)
    documents = parse_root(root, kind)
    return parser, [RawDocument(doc.data, doc.identity, (0, len(payload))) for doc in documents]


def _result(index: int, raw: RawDocument, parser: Parser, kind: Kind) -> DocumentResult:
    data = {**raw.data, "source_format": parser.name, "parser_version": parser.version}
    try:
        document = build(kind, data)
    except FieldErrors as errors:
        combined = FieldErrors([*raw.problems, *errors.errors])
        return DocumentResult(index, raw.identity, raw.span, errors=combined)
    if raw.problems:
        return DocumentResult(index, raw.identity, raw.span, errors=FieldErrors(list(raw.problems)))
    return DocumentResult(index, raw.identity, raw.span, document=document)


def parse(payload: bytes, content_type: str | None, kind: Kind) -> ParseResult:
    """Split `payload` into `kind` documents and normalize each; EnvelopeError if unreadable."""
    parser, raws = _split(payload, content_type, kind)
    if not raws:
        raise EnvelopeError(f"the payload contains no {kind} documents", None, "empty")
    results = [_result(index, raw, parser, kind) for index, raw in enumerate(raws)]
    return ParseResult(parser.name, parser.version, results)


def split(payload: bytes, content_type: str | None, kind: Kind) -> SplitResult:
    """Split `payload` into `kind` documents and identify each; EnvelopeError if unreadable."""
    parser, raws = _split(payload, content_type, kind)
    if not raws:
        raise EnvelopeError(f"the payload contains no {kind} documents", None, "empty")
    documents = [
        Identified(index, raw.identity, supplier_ref(raw.data)) for index, raw in enumerate(raws)
    ]
    return SplitResult(parser.name, parser.version, documents)


def supplier_ref(data: dict[str, Any]) -> SupplierRef:
    """The supplier a raw document names; anything unreadable counts as not named."""
    party = data.get("supplier")
    if not isinstance(party, dict):
        return SupplierRef()
    tax_ids = party.get("tax_ids")
    values = (
        [_text(entry.get("value")) for entry in tax_ids if isinstance(entry, dict)]
        if isinstance(tax_ids, list)
        else []
    )
    return SupplierRef(
        portal_id=_text(party.get("portal_id")),
        erp_vendor_number=_text(party.get("erp_vendor_number")),
        tax_ids=tuple(value for value in values if value),
    )


def _text(value: Any) -> str | None:
    """A scalar identifier as the canonical model would read it (strings are stripped). A NUL
    is left out: the database cannot compare it, and the model rejects the document naming
    the field, which tells the sender more than "name your supplier" would."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).replace("\x00", "").strip() or None
