"""Hostile XML never costs more than a bounded parse, never reads a file, never fetches a URL."""

from __future__ import annotations

import pytest

from app.formats import EnvelopeError, parse
from app.formats.xml_safety import parse_xml

pytestmark = pytest.mark.no_db

XML = "application/xml"
UBL_OPEN = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'


def _billion_laughs() -> bytes:
    levels = [b'<!ENTITY lol0 "lol">']
    levels += [b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)]
    return (
        b'<?xml version="1.0"?><!DOCTYPE Invoice ['
        + b"".join(levels)
        + b"]>"
        + UBL_OPEN
        + b"&lol9;</Invoice>"
    )


def _quadratic_blowup() -> bytes:
    entity = b"A" * 200_000
    body = b"&a;" * 50_000
    return (
        b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY a "'
        + entity
        + b'">]>'
        + UBL_OPEN
        + body
        + b"</Invoice>"
    )


HOSTILE = {
    "billion-laughs": _billion_laughs(),
    "quadratic-blowup": _quadratic_blowup(),
    "xxe-file": b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + UBL_OPEN
    + b"<ID>&x;</ID></Invoice>",
    "parameter-entity-dtd": b'<?xml version="1.0"?><!DOCTYPE Invoice '
    b'[<!ENTITY % d SYSTEM "http://127.0.0.1:9/x.dtd"> %d;]>' + UBL_OPEN + b"</Invoice>",
}


@pytest.mark.timeout(5)
@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_entity_declarations_are_refused_before_parsing(payload):
    with pytest.raises(EnvelopeError, match="entity declarations are not accepted") as caught:
        parse(payload, XML, "invoice")
    assert caught.value.code == "unsafe_xml"
    assert caught.value.location == "line 1"


@pytest.mark.timeout(5)
def test_entity_declarations_hidden_in_utf16_are_still_refused():
    # The byte scan cannot see UTF-16; the check on the parsed DTD must.
    payload = '<!DOCTYPE Invoice [<!ENTITY a "harmless">]><Invoice/>'.encode("utf-16")
    with pytest.raises(EnvelopeError) as caught:
        parse_xml(payload)
    assert caught.value.code == "unsafe_xml"


@pytest.mark.timeout(5)
def test_billion_laughs_in_utf16_is_stopped_by_the_parser_itself():
    payload = _billion_laughs().replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16")
    with pytest.raises(EnvelopeError):
        parse_xml(payload)


@pytest.mark.timeout(5)
def test_external_dtd_is_never_read(tmp_path):
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY secret "TOP-SECRET">')
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE Invoice SYSTEM "'
        + dtd.as_uri().encode()
        + b'">'
        + UBL_OPEN
        + b"\n<ID>&secret;</ID></Invoice>"
    )
    with pytest.raises(
        EnvelopeError, match="entity reference &secret; cannot be resolved"
    ) as caught:
        parse(payload, XML, "invoice")
    assert caught.value.location == "line 2"
    assert "TOP-SECRET" not in str(caught.value)


@pytest.mark.timeout(5)
def test_external_dtd_without_references_parses_without_fetching():
    # cXML documents always name their DTD; it must be tolerated but never fetched.
    root = parse_xml(b'<!DOCTYPE cXML SYSTEM "http://127.0.0.1:9/cXML.dtd"><cXML/>')
    assert root.tag == "cXML"


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("payload", "location"),
    [
        (b"<Invoice><ID>1</Invoice>", "line 1, column 25"),
        (b"<?xml version='1.0'?>\n<Invoice>\n  <ID>1", "line 3, column 8"),
        (b"<", "line 1, column 2"),
    ],
    ids=["mismatched-tag", "truncated", "lone-bracket"],
)
def test_not_well_formed_xml_is_an_envelope_error_with_line_and_column(payload, location):
    with pytest.raises(EnvelopeError, match="not well-formed XML") as caught:
        parse(payload, XML, "invoice")
    assert caught.value.location == location


@pytest.mark.timeout(5)
def test_unknown_xml_vocabulary_is_refused():
    with pytest.raises(EnvelopeError, match=r"neither UBL 2\.1 nor cXML") as caught:
        parse(b"<Order xmlns='urn:example'/>", XML, "invoice")
    assert caught.value.location == "/Order"


@pytest.mark.timeout(5)
def test_deeply_nested_xml_is_bounded():
    payload = b"<a>" * 300_000 + b"</a>" * 300_000
    with pytest.raises(EnvelopeError):
        parse(payload, XML, "invoice")
