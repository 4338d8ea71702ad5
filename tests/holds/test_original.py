"""The original document laid out for reading on the finance invoice page, without a database:
JSON and XML indented, hostile XML shown as sent and never expanded, X12 a segment a line,
CSV a table."""

from __future__ import annotations

import pytest

from app.holds.original import CSV_ROWS, readable
from tests.formats.helpers import local

pytestmark = pytest.mark.no_db


def test_json_is_indented():
    shown = readable(b'{"invoice_number":"INV-1","lines":[{"line_id":"1"}]}', "application/json")
    assert shown.text.splitlines() == [
        "{",
        '  "invoice_number": "INV-1",',
        '  "lines": [',
        "    {",
        '      "line_id": "1"',
        "    }",
        "  ]",
        "}",
    ]


def test_xml_is_indented_one_element_a_line():
    body = b'<?xml version="1.0"?><Invoice xmlns="urn:x"><ID>INV-9</ID><Lines><Line>1</Line></Lines></Invoice>'
    shown = readable(body, "application/xml; charset=utf-8")
    assert shown.text.splitlines() == [
        '<Invoice xmlns="urn:x">',
        "  <ID>INV-9</ID>",
        "  <Lines>",
        "    <Line>1</Line>",
        "  </Lines>",
        "</Invoice>",
    ]


def test_a_cxml_file_sniffed_without_its_content_type_is_indented():
    shown = readable(local("cxml_credit_memo.xml"), "application/octet-stream")
    lines = shown.text.splitlines()
    assert lines[0].startswith("<cXML")
    assert any(line.startswith("  <") for line in lines)


@pytest.mark.timeout(5)
def test_hostile_xml_is_shown_as_sent_never_expanded_nor_fetched():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file:///etc/passwd">'
        b'<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<Invoice><ID>&x;</ID><Note>&b;&b;&b;</Note></Invoice>"
    )
    shown = readable(body, "application/xml")
    assert shown.text == body.decode()  # as sent: the page escapes it
    assert "root:" not in shown.text


def test_x12_with_tildes_is_one_segment_a_line():
    isa = "ISA*00*          *00*          *ZZ*ACME           *ZZ*HOSPITAL       *240301*1200*^*00501*000000901*0*T*:~"
    body = (
        isa + "GS*IN*ACME*HOSP*20240301*1200*901*X*005010~ST*810*0001~BIG*20240301*INV-1~SE*3*0001~"
    ).encode()
    lines = readable(body, "application/edi-x12").text.splitlines()
    assert lines[0] == isa
    assert lines[1:] == [
        "GS*IN*ACME*HOSP*20240301*1200*901*X*005010~",
        "ST*810*0001~",
        "BIG*20240301*INV-1~",
        "SE*3*0001~",
    ]


def test_x12_whose_segments_end_in_newlines_keeps_them_a_line_each():
    body = local("x12_810_005010_pipes.txt")
    lines = readable(body, "application/edi-x12").text.splitlines()
    assert lines[0].startswith("ISA|00|")
    assert lines[1].startswith("GS|IN|")
    assert lines[2] == "ST|810|0001"


def test_csv_is_a_table_with_its_header_and_quoted_cells():
    shown = readable(local("csv_two_invoices.csv"), "text/csv")
    assert shown.is_table
    header, first, second, *_ = shown.rows
    assert header[:3] == ["invoice_number", "issue_date", "due_date"]
    assert first[0] == "INV-1001"
    assert first[4] == "Acme Medical, Inc."  # a quoted comma stays in its cell
    assert first[9] == 'Gauze 4" x 4", sterile'
    assert len(second) == len(header)


def test_semicolon_csv_and_a_long_one_is_cut_with_a_note():
    shown = readable(b"number;amount\nA-1;10,50\n", "text/csv")
    assert shown.rows == [["number", "amount"], ["A-1", "10,50"]]
    long = ("n,amount\n" + "".join(f"{n},1\n" for n in range(CSV_ROWS + 20))).encode()
    cut = readable(long, "text/csv")
    assert cut.truncated
    assert len(cut.rows) == CSV_ROWS + 1


def test_bytes_that_are_not_utf8_are_not_shown():
    assert readable(b"\xff\xfe\x00I\x00N", "application/octet-stream") is None
