"""CSV and canonical JSON: grouping, quoting, collected field errors, envelope errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.formats import EnvelopeError, parse
from tests.formats.helpers import error_codes, local, parse_ok

pytestmark = pytest.mark.no_db

CSV_HEADER = (
    "invoice_number,issue_date,currency,supplier_name,line_id,description,quantity,unit_price,"
    "line_amount,payable_amount"
)

D = Decimal  # short name keeps the expected values readable


def _csv(*rows: str) -> bytes:
    return ("\n".join([CSV_HEADER, *rows]) + "\n").encode()


def test_csv_two_invoices_grouped_with_quoted_fields():
    first, second = parse_ok(local("csv_two_invoices.csv"), "text/csv", "invoice")
    assert (first.invoice_number, second.invoice_number) == ("INV-1001", "INV-1002")
    assert first.supplier.name == "Acme Medical, Inc."
    assert [(t.scheme, t.value) for t in first.supplier.tax_ids] == [("EIN", "12-3456789")]
    assert [line.description for line in first.lines] == ['Gauze 4" x 4", sterile', 'Tape, 1"']
    assert [
        (line.quantity, line.unit_price, line.line_extension_amount, line.po_line)
        for line in first.lines
    ] == [
        (D("10"), D("2.50"), D("25.00"), "1"),
        (D("3"), D("5.00"), D("15.00"), "2"),
    ]
    assert (first.totals.line_total, first.totals.tax_total, first.totals.payable) == (
        D("40.00"),
        D("1.50"),
        D("41.50"),
    )
    assert first.notes == ["Net 30, thanks"]
    assert (second.currency, second.lines[0].po_number, second.totals.payable) == (
        "EUR",
        "PO-4600",
        D("15.00"),
    )


def test_csv_identities_name_the_rows():
    result = parse(local("csv_two_invoices.csv"), "text/csv", "invoice")
    assert [doc.identity for doc in result.documents] == [
        "invoice INV-1001 (lines 2, 4)",
        "invoice INV-1002 (line 3)",
    ]


def test_csv_semicolons_and_bom_are_accepted():
    payload = b"\xef\xbb\xbf" + _csv("A-1,2024-01-02,USD,Acme,1,Gauze,2,1.5,3.0,3.0").replace(
        b",", b";"
    )
    (invoice,) = parse_ok(payload, "text/csv", "invoice")
    assert invoice.totals.payable == D("3.0")


def test_csv_every_problem_of_an_invoice_is_listed():
    payload = _csv(",2024-01-02,XYZ,Acme,1,Gauze,-2,1.5,-3.0,abc")
    codes = error_codes(payload, "text/csv", "invoice")
    assert set(codes) == {
        ("invoice_number", "required"),
        ("currency", "unknown_currency"),
        ("totals.payable", "unreadable_amount"),
        ("lines[0].quantity", "negative_quantity"),
    }


def test_csv_rows_that_disagree_on_the_invoice_reject_it():
    payload = _csv(
        "A-1,2024-01-02,USD,Acme,1,Gauze,2,1.5,3.0,5.0",
        "A-1,2024-01-02,EUR,Acme,2,Tape,1,2,2.0,5.0",
    )
    assert error_codes(payload, "text/csv", "invoice") == [("currency", "inconsistent_rows")]


def test_csv_stated_line_total_is_checked():
    header = CSV_HEADER + ",line_total"
    payload = f"{header}\nA-1,2024-01-02,USD,Acme,1,Gauze,2,1.5,3.0,3.0,4.0\n".encode()
    assert error_codes(payload, "text/csv", "invoice") == [
        ("totals.line_total", "line_total_mismatch")
    ]


@pytest.mark.timeout(5)
def test_csv_missing_required_columns_is_an_envelope_error():
    payload = b"invoice_number,issue_date,currency\nA-1,2024-01-02,USD\n"
    with pytest.raises(
        EnvelopeError, match="lacks required columns: supplier_name, line_id"
    ) as caught:
        parse(payload, "text/csv", "invoice")
    assert caught.value.location == "line 1"


@pytest.mark.timeout(5)
def test_csv_unknown_column_and_ragged_row_are_envelope_errors():
    with pytest.raises(EnvelopeError, match="unknown columns: quantitty"):
        parse(_csv().replace(b"quantity", b"quantitty"), "text/csv", "invoice")
    with pytest.raises(EnvelopeError, match="row has 3 fields") as caught:
        parse(_csv("A-1,2024-01-02,USD"), "text/csv", "invoice")
    assert caught.value.location == "line 2"


def test_csv_acknowledgments_are_not_accepted():
    with pytest.raises(EnvelopeError, match="csv carries no acknowledgment"):
        parse(local("csv_two_invoices.csv"), "text/csv", "acknowledgment")


def test_json_documents_array_with_credit_note_and_numbers_read_exactly():
    invoice, credit = parse_ok(local("json_two_documents.json"), "application/json", "invoice")
    assert invoice.lines[1].unit_price == D("0.1")  # never a binary float
    assert invoice.totals.payable == D("1.2")
    assert invoice.supplier.erp_vendor_number == "V-0042"
    assert (credit.document_type, credit.currency, credit.lines[0].quantity) == (
        "credit_note",
        "USD",
        D("-1"),
    )
    assert invoice.model_dump(mode="json")["totals"]["payable"] == "1.2"  # money out as strings


def test_json_single_object_and_server_fields_are_overwritten():
    payload = (
        b'{"invoice_number": "S-1", "issue_date": "2024-01-01", "currency": "USD",'
        b' "supplier": {"name": "A"}, "source_format": "ubl", "parser_version": "forged",'
        b' "lines": [{"line_id": "1", "quantity": 1, "line_extension_amount": "5"}],'
        b' "totals": {"line_total": "5", "payable": "5"}}'
    )
    (invoice,) = parse_ok(payload, "application/json", "invoice")
    assert (invoice.source_format, invoice.parser_version) == ("json", "json-1.0.0")


def test_json_field_errors_include_unknown_fields_and_bad_dates():
    payload = (
        b'{"invoice_number": "S-1", "issue_date": "2024-13-01", "currency": "USD", "colour": "red",'
        b' "supplier": {"name": "A"}, "lines": [{"line_id": "1", "quantity": "1",'
        b' "line_extension_amount": "5"},'
        b' {"line_id": "2", "quantity": "1", "line_extension_amount": "6"}],'
        b' "totals": {"line_total": "5", "payable": "11"}}'
    )
    codes = set(error_codes(payload, "application/json", "invoice"))
    assert codes == {
        ("issue_date", "invalid_date"),
        ("colour", "unknown_field"),
        ("totals.line_total", "line_total_mismatch"),
    }


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("payload", "location"),
    [
        (b'{"invoice_number": "x",\n  "currency": }', "line 2, column 15"),
        (b"[1, 2]", "$"),
        (b'{"documents": []}', "$.documents"),
    ],
)
def test_json_envelope_errors_have_locations(payload, location):
    with pytest.raises(EnvelopeError) as caught:
        parse(payload, "application/json", "invoice")
    assert caught.value.location == location
