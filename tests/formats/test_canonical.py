"""The canonical models: versioned, Decimal money out as strings, schemas published by id."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.canonical import (
    ACKNOWLEDGMENT_V1,
    INVOICE_V1,
    FieldErrors,
    Invoice,
    build,
    json_schema,
    published,
)

pytestmark = pytest.mark.no_db

MINIMAL = {
    "invoice_number": "M-1",
    "issue_date": "2024-01-01",
    "currency": "usd",
    "supplier": {"name": "Acme"},
    "lines": [{"line_id": "1", "quantity": "1", "line_extension_amount": "0.30"}],
    "totals": {"line_total": "0.30", "payable": "0.30"},
    "source_format": "json",
    "parser_version": "test",
}

D = Decimal  # short name keeps the expected values readable


def test_build_returns_a_v1_invoice_with_decimal_money():
    invoice = build("invoice", MINIMAL)
    assert isinstance(invoice, INVOICE_V1)
    assert invoice.schema_version == "1"
    assert invoice.currency == "USD"
    assert invoice.totals.payable == D("0.30")
    dumped = json.loads(invoice.model_dump_json())
    assert dumped["totals"]["payable"] == "0.30"
    assert dumped["lines"][0]["quantity"] == "1"


def test_every_problem_is_collected_not_just_the_first():
    raw = {**MINIMAL, "invoice_number": "", "currency": "ABC"}
    raw["lines"] = [
        {"line_id": "1", "quantity": "-1", "line_extension_amount": "0.10"},
        {"line_id": "2", "quantity": "1", "line_extension_amount": "x"},
    ]
    raw["totals"] = {"line_total": "1", "payable": "1,00"}
    with pytest.raises(FieldErrors) as caught:
        build("invoice", raw)
    assert {(e.path, e.code) for e in caught.value.errors} == {
        ("invoice_number", "required"),
        ("currency", "unknown_currency"),
        ("lines[1].line_extension_amount", "unreadable_number"),
        ("totals.payable", "unreadable_amount"),
        ("lines[0].quantity", "negative_quantity"),
    }
    assert all(set(item) == {"path", "message", "code"} for item in caught.value.as_list())


def test_credit_notes_may_carry_negative_quantities():
    raw = {**MINIMAL, "document_type": "credit_note"}
    raw["lines"] = [{"line_id": "1", "quantity": "-3", "line_extension_amount": "0.30"}]
    assert build("invoice", raw).lines[0].quantity == D("-3")


def test_an_invalid_iban_is_refused_but_an_account_number_is_not():
    with pytest.raises(FieldErrors) as caught:
        build("invoice", {**MINIMAL, "remit_to": {"iban": "NL00RABO0000000000"}})
    assert [(e.path, e.code) for e in caught.value.errors] == [("remit_to.iban", "invalid_iban")]
    ok = build("invoice", {**MINIMAL, "remit_to": {"iban": "NL57 RABO 0107 3075 10"}})
    assert ok.remit_to.iban == "NL57RABO0107307510"


def test_acknowledgment_duplicate_lines_are_an_error():
    raw = {
        "ack_number": "A-1",
        "po_number": "PO-1",
        "issue_date": "2024-01-01",
        "status": "accepted",
        "lines": [{"po_line": "1", "status": "accept"}, {"po_line": "1", "status": "reject"}],
        "source_format": "json",
        "parser_version": "test",
    }
    with pytest.raises(FieldErrors) as caught:
        build("acknowledgment", raw)
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("lines[1].po_line", "duplicate_line")
    ]


@pytest.mark.parametrize(
    ("kind", "model"), [("invoice", INVOICE_V1), ("acknowledgment", ACKNOWLEDGMENT_V1)]
)
@pytest.mark.parametrize("version", ["1", "v1", "v1.json"])
def test_json_schema_is_published_with_its_id(kind, model, version):
    schema = json_schema(kind, version)
    assert schema["$id"] == f"/api/schemas/{kind}/v1.json"
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["properties"]["schema_version"]["const"] == "1"
    assert set(schema["required"]) == {n for n, f in model.model_fields.items() if f.is_required()}


def test_schema_lists_real_currencies_and_unpublished_versions_raise():
    currencies = json_schema("invoice", "1")["properties"]["currency"]["enum"]
    assert {"EUR", "USD", "SEK"} <= set(currencies)
    assert "XXX" not in currencies
    with pytest.raises(KeyError):
        json_schema("invoice", "2")
    assert published() == ["/api/schemas/invoice/v1.json", "/api/schemas/acknowledgment/v1.json"]


def test_money_is_never_a_float_in_the_schema_defaults():
    assert Invoice.model_fields["schema_version"].default == "1"
    assert isinstance(build("invoice", MINIMAL).totals.allowance_total, D)
