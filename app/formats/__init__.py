"""Normalization: one parser per wire format, each turning a payload into canonical documents.

`parse()` is the only entry point the pipeline needs. It raises EnvelopeError when the payload
as a whole cannot be read (the API answers 400); otherwise every document found in it comes back
either as a canonical model or as the FieldErrors that reject it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from app.canonical import Acknowledgment, FieldErrors, Invoice, build
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
    "ParseResult",
    "parse",
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
