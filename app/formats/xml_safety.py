"""One hardened lxml parser for every XML format, so no document can make us fetch a URL,
read a local file, or expand entities until memory runs out.

The parser never loads a DTD, never resolves entities and never touches the network; on top
of that any document whose DOCTYPE declares entities is refused outright (billion laughs,
quadratic blow-up, XXE), and so is any entity reference left unresolved (one that an external
DTD would have defined). A DOCTYPE that only names an external DTD, as cXML requires, is
tolerated because the DTD is never read.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from app.formats.errors import EnvelopeError

MAX_XML_BYTES = 20 * 1024 * 1024

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_local = threading.local()


def _parser() -> etree.XMLParser:
    """One parser per thread: lxml parsers keep per-parse state and must not be shared."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def _line_of(payload: bytes, offset: int) -> int:
    return payload.count(b"\n", 0, offset) + 1


def _refuse_entity_declarations(payload: bytes) -> None:
    """Cheap byte scan before parsing, so a hostile DOCTYPE costs no parser time at all."""
    match = _ENTITY_DECLARATION.search(payload)
    if match is not None:
        raise EnvelopeError(
            "XML entity declarations are not accepted",
            f"line {_line_of(payload, match.start())}",
            code="unsafe_xml",
        )


def _refuse_declared_entities(tree: etree._ElementTree) -> None:
    """Catches declarations the byte scan cannot see (e.g. a UTF-16 document)."""
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise EnvelopeError(
            "XML entity declarations are not accepted", "DOCTYPE", code="unsafe_xml"
        )


def _refuse_entity_references(root: etree._Element) -> None:
    for entity in root.iter(etree.Entity):
        raise EnvelopeError(
            f"entity reference {entity.text} cannot be resolved (external DTDs are never read)",
            f"line {entity.sourceline}",
            code="unsafe_xml",
        )


def parse_xml(payload: bytes) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise EnvelopeError with a location."""
    if len(payload) > MAX_XML_BYTES:
        raise EnvelopeError(f"XML payload larger than {MAX_XML_BYTES} bytes", code="too_large")
    _refuse_entity_declarations(payload)
    try:
        root = etree.fromstring(payload, _parser())
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise EnvelopeError(
            f"not well-formed XML: {error.msg}", f"line {line}, column {column}"
        ) from None
    if root is None:
        raise EnvelopeError("empty XML document", "line 1")
    _refuse_declared_entities(root.getroottree())
    _refuse_entity_references(root)
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace
