"""The original document as a person reads it on the finance invoice page: JSON indented, XML
indented (by the formats' hardened parser: no entity resolution, no DTD, no network; the
bytes are whatever the sender sent), X12 one segment per line, CSV as a table. Pure: bytes and their content type
in; anything that does not parse is shown as the text it is."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from lxml import etree

from app.formats.detect import BOM, DECLARED, media_type, sniff
from app.formats.errors import EnvelopeError
from app.formats.xml_safety import parse_xml

ISA_LENGTH = 106  # the X12 interchange header is fixed-width: its last character ends segments
CSV_ROWS = 500  # rows shown as a table; a longer file is still a download


@dataclass(frozen=True)
class Readable:
    text: str = ""  # JSON, XML, X12 or anything else, as lines of text
    rows: list[list[str]] = field(default_factory=list)  # CSV: the header row first
    truncated: bool = False  # more CSV rows than shown

    @property
    def is_table(self) -> bool:
        return bool(self.rows)


def readable(body: bytes, content_type: str | None) -> Readable | None:
    """The original laid out for reading, or None for bytes that are not UTF-8 text."""
    try:
        text = body.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        return None
    match family(body, content_type):
        case "json":
            return Readable(_json(text))
        case "xml":
            return Readable(_xml(body.removeprefix(BOM)) or text)
        case "x12":
            return Readable(x12_segments(text))
        case "csv":
            return _csv(text)
    return Readable(text)


def family(body: bytes, content_type: str | None) -> str | None:
    """The wire format by its declared type, else by how the bytes start."""
    kind = media_type(content_type)
    if kind in DECLARED:
        return DECLARED[kind]
    if kind.endswith(("+xml", "+json")):
        return kind.rpartition("+")[2]
    return sniff(body)


def _json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _xml(body: bytes) -> str | None:
    """Indented, from the formats' hardened parser (no DTD, no entities, no network; entity
    declarations refused): None when it will not parse, and the text is shown as sent."""
    try:
        root = parse_xml(body)
    except EnvelopeError:
        return None
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def x12_segments(text: str) -> str:
    """One segment per line, each ending in its terminator as sent. The terminator is the
    character that ends the fixed-width ISA header; without one, `~`."""
    text = text.lstrip()
    terminator = text[ISA_LENGTH - 1] if text.startswith("ISA") and len(text) >= ISA_LENGTH else "~"
    if terminator in "\r\n":
        segments = text.splitlines()
        ending = ""
    else:
        segments = text.split(terminator)
        ending = terminator
    return "\n".join(s.strip("\r\n") + ending for s in segments if s.strip())


def _csv(text: str) -> Readable:
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if len(rows) > CSV_ROWS:
                return Readable(rows=rows[: CSV_ROWS + 1], truncated=True)
            if any(cell.strip() for cell in row):
                rows.append(row)
    except csv.Error:
        return Readable(text)  # not CSV after all: the text as sent
    if not rows:
        return Readable(text)
    width = max(len(row) for row in rows)
    return Readable(rows=[row + [""] * (width - len(row)) for row in rows])
