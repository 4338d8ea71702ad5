"""Format detection: a specific Content-Type is trusted, a generic one is sniffed, and a
payload that contradicts its declared type is refused."""

from __future__ import annotations

import pytest

from app.formats import PARSERS, EnvelopeError, parse
from app.formats.detect import detect
from tests.formats.helpers import local, shared

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(
    ("content_type", "relative", "expected"),
    [
        ("application/xml", "ubl/base-example.xml", "ubl"),
        ("text/xml; charset=utf-8", "cxml/invoice_taxes_at_line.xml", "cxml"),
        ("application/xml", "cxml/invoice_taxes_at_line.xml", "cxml"),
        ("application/edi-x12", "x12/Example5_Walmart.txt", "x12"),
        ("application/octet-stream", "ubl/ubl-tc434-example1.xml", "ubl"),
        ("text/plain", "x12/Example3_MultiInvoice.txt", "x12"),
        (None, "cxml/invoice_backed_by_multiple_pos.xml", "cxml"),
    ],
)
def test_shared_samples_route_to_their_parser(content_type, relative, expected):
    assert parse(shared(relative), content_type, "invoice").format == expected


@pytest.mark.parametrize(
    ("content_type", "name", "expected"),
    [
        ("text/csv", "csv_two_invoices.csv", "csv"),
        (None, "csv_two_invoices.csv", "csv"),
        ("application/json", "json_two_documents.json", "json"),
        ("application/vnd.portal.invoice+json", "json_two_documents.json", "json"),
        ("", "json_two_documents.json", "json"),
    ],
)
def test_local_samples_route_to_their_parser(content_type, name, expected):
    result = parse(local(name), content_type, "invoice")
    assert result.format == expected
    assert result.parser_version == PARSERS[expected].version


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("content_type", "relative"),
    [
        ("application/json", "ubl/base-example.xml"),
        ("text/csv", "x12/Example5_Walmart.txt"),
        ("application/edi-x12", "cxml/invoice_taxes_at_line.xml"),
        ("application/xml", "x12/Example5_Walmart.txt"),
    ],
)
def test_payload_contradicting_its_declared_type_is_refused(content_type, relative):
    with pytest.raises(EnvelopeError, match="but the payload looks like") as caught:
        parse(shared(relative), content_type, "invoice")
    assert caught.value.code == "wrong_content_type"


@pytest.mark.timeout(5)
def test_unsupported_content_type_and_unrecognisable_bytes():
    with pytest.raises(EnvelopeError, match="'application/pdf' is not supported"):
        parse(b"%PDF-1.7", "application/pdf", "invoice")
    with pytest.raises(EnvelopeError, match="cannot tell the format") as caught:
        parse(b"\x00\x01 just bytes", None, "invoice")
    assert caught.value.location == "byte 0"


def test_every_parser_is_registered_with_a_version():
    assert set(PARSERS) == {"json", "ubl", "cxml", "x12", "csv"}
    assert all(parser.version for parser in PARSERS.values())
    assert detect(b"\xef\xbb\xbf  ISA*00*", None) == "x12"
