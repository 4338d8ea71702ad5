"""UBL 2.1 / Peppol samples normalize field by field; other UBL documents are refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.formats import EnvelopeError, parse
from tests.formats.helpers import error_codes, parse_ok, shared

pytestmark = pytest.mark.no_db

XML = "application/xml"

D = Decimal  # short name keeps the expected values readable


def _one(relative: str, kind: str = "invoice"):
    (document,) = parse_ok(shared(relative), XML, kind)
    return document


def test_base_example_header_parties_and_totals():
    invoice = _one("ubl/base-example.xml")
    assert invoice.document_type == "invoice"
    assert invoice.invoice_number == "Snippet1"
    assert (invoice.issue_date, invoice.due_date) == (date(2017, 11, 13), date(2017, 12, 1))
    assert invoice.currency == "EUR"
    assert invoice.supplier.name == "SupplierTradingName Ltd."
    assert invoice.supplier.legal_name == "SupplierOfficialName Ltd"
    assert [(t.scheme, t.value) for t in invoice.supplier.tax_ids] == [("VAT", "GB1232434")]
    assert invoice.supplier.addresses[0].city == "London"
    assert invoice.buyer.name == "BuyerTradingName AS"
    assert invoice.ship_to.name == "Delivery party Name"
    assert invoice.remit_to.account_number == "IBAN32423940"  # not a valid IBAN: kept as account
    assert invoice.remit_to.bic == "BIC324098"
    assert invoice.payment_terms.text == "Payment within 10 days, 2% discount"
    totals = invoice.totals
    assert totals.line_total == D("1300")
    assert (totals.charge_total, totals.allowance_total) == (D("25"), D("0"))
    assert totals.tax_exclusive == D("1325")
    assert totals.tax_total == D("331.25")
    assert totals.tax_inclusive == D("1656.25")
    assert totals.payable == D("1656.25")
    (charge,) = invoice.allowances_charges
    assert (charge.is_charge, charge.amount, charge.reason) == (True, D("25"), "Insurance")
    (subtotal,) = invoice.tax_subtotals
    assert (subtotal.taxable_amount, subtotal.tax_amount, subtotal.rate) == (
        D("1325"),
        D("331.25"),
        D("25.0"),
    )


def test_base_example_lines_including_the_negative_return_line():
    lines = _one("ubl/base-example.xml").lines
    assert [
        (line.line_id, line.quantity, line.unit_code, line.unit_price, line.line_extension_amount)
        for line in lines
    ] == [
        ("1", D("7"), "DAY", D("400"), D("2800")),
        ("2", D("-3"), "DAY", D("500"), D("-1500")),
    ]
    assert [(line.description, line.po_line, line.standard_item_id) for line in lines] == [
        ("item name", "123", "21382183120983"),
        ("item name 2", "123", "21382183120983"),
    ]
    assert lines[0].notes == ["Description of item"]
    assert (lines[0].tax_category, lines[0].tax_rate) == ("S", D("25.0"))


def test_credit_note_maps_to_credit_note_with_credited_quantities():
    note = _one("ubl/base-creditnote-correction.xml")
    assert note.document_type == "credit_note"
    assert note.invoice_number == "Snippet1"
    assert note.billing_references == ["Snippet1"]
    assert note.due_date is None
    assert [(line.quantity, line.line_extension_amount) for line in note.lines] == [
        (D("7"), D("2800")),
        (D("-3"), D("-1500")),
    ]
    assert note.totals.payable == D("1656.25")
    assert note.notes == ["Please note we have a new phone number: 22 22 22 22"]


def test_negative_invoice_correction_is_kept_as_an_en16931_invoice():
    invoice = _one("ubl/base-negative-inv-correction.xml")
    assert invoice.document_type == "invoice"
    assert invoice.invoice_number == "Correction1"
    assert invoice.billing_references == ["Snippet1"]
    assert invoice.specification_id.startswith("urn:cen.eu:en16931:2017")
    assert [line.quantity for line in invoice.lines] == [D("-7"), D("3")]
    assert invoice.totals.line_total == D("-1300")
    assert invoice.totals.charge_total == D("-25")
    assert invoice.totals.tax_total == D("-331.25")
    assert invoice.totals.payable == D("-1656.25")


def test_allowance_example_document_and_line_allowances_and_charges():
    invoice = _one("ubl/Allowance-example.xml")
    assert invoice.tax_point_date == date(2017, 12, 1)
    assert [
        (a.is_charge, a.amount, a.reason_code, a.percent, a.base_amount)
        for a in invoice.allowances_charges
    ] == [
        (True, D("200"), "CG", D("20"), D("1000")),
        (False, D("200"), "95", None, None),
    ]
    t = invoice.totals
    assert (t.line_total, t.allowance_total, t.charge_total) == (D("5900"), D("200"), D("200"))
    assert (t.tax_exclusive, t.tax_total, t.tax_inclusive) == (D("5900"), D("1225.00"), D("7125"))
    assert (t.prepaid, t.payable) == (D("1000"), D("6125.00"))
    assert [(s.category, s.taxable_amount, s.tax_amount) for s in invoice.tax_subtotals] == [
        ("S", D("4900.0"), D("1225")),
        ("E", D("1000.0"), D("0")),
    ]
    first, second, third = invoice.lines
    assert [(a.is_charge, a.amount) for a in first.allowances_charges] == [
        (True, D("1")),
        (False, D("101")),
    ]
    assert (first.quantity, first.unit_price, first.line_extension_amount) == (
        D("10"),
        D("410"),
        D("4000.00"),
    )
    assert first.supplier_item_id == "97iugug876"
    assert (second.unit_price, second.price_base_quantity, second.line_extension_amount) == (
        D("200"),
        D("2"),
        D("1000.00"),
    )
    assert (second.tax_category, second.po_line) == ("E", "124")
    assert (third.line_extension_amount, len(third.allowances_charges)) == (D("900.00"), 2)


def test_tc434_dutch_invoice_twenty_lines_two_vat_rates():
    invoice = _one("ubl/ubl-tc434-example1.xml")
    assert invoice.invoice_number == "12115118"
    assert invoice.issue_date == invoice.due_date == date(2015, 1, 9)
    assert invoice.supplier.name is None
    assert invoice.supplier.legal_name == "De Koksmaat"
    assert invoice.supplier.tax_ids[0].value == "NL8200.98.395.B.01"
    assert invoice.buyer.legal_name == "ODIN 59"
    assert invoice.remit_to.iban == "NL57RABO0107307510"
    assert len(invoice.lines) == 20
    assert (
        invoice.lines[0].description,
        invoice.lines[0].quantity,
        invoice.lines[0].unit_price,
    ) == (
        "PATAT FRITES 10MM 10KG",
        D("2"),
        D("9.95"),
    )
    last = invoice.lines[-1]
    assert (last.quantity, last.unit_price, last.line_extension_amount) == (
        D("6"),
        D("18.33"),
        D("-109.98"),
    )
    assert sum(line.line_extension_amount for line in invoice.lines) == D("229.60")
    assert (invoice.totals.tax_total, invoice.totals.payable) == (D("20.73"), D("250.33"))
    assert [s.rate for s in invoice.tax_subtotals] == [D("6"), D("21")]


def test_order_response_uc1_line_by_line():
    ack = _one("peppol-order-response/UC1_Order_response.xml", "acknowledgment")
    assert (ack.ack_number, ack.po_number, ack.issue_date) == ("101", "1", date(2013, 7, 1))
    assert ack.status == "accepted_with_changes"
    assert ack.currency == "EUR"
    assert ack.supplier.legal_name == "The Supplier AB"
    assert ack.promised_delivery_date == date(2013, 7, 15)
    assert [(line.po_line, line.status, line.supplier_item_id) for line in ack.lines] == [
        ("1", "accept", "SN-33"),
        ("2", "reject", "SN-34"),
        ("3", "change", "SN-35"),
    ]
    assert ack.lines[2].substitute_item_id == "SN-36"
    assert ack.lines[2].notes == ["Substituted Item"]


def test_order_response_uc3_whole_order_rejected_with_reason():
    ack = _one("peppol-order-response/UC3_Order_response.xml", "acknowledgment")
    assert (ack.ack_number, ack.po_number, ack.status) == ("4552", "5", "rejected")
    assert ack.reason == "No available translators"
    assert ack.lines == []
    assert ack.supplier.identifiers[0].value == "987654325"


def test_order_response_uc4_changed_quantity_price_and_date():
    ack = _one("peppol-order-response/UC4_Order_response.xml", "acknowledgment")
    (line,) = ack.lines
    assert (ack.status, line.po_line, line.status) == ("accepted_with_changes", "1", "change")
    assert (line.changed_quantity, line.unit_code) == (D("500"), "NAR")
    assert (line.changed_unit_price, line.price_base_quantity) == (D("0.9"), D("10"))
    assert line.changed_delivery_date == date(2013, 7, 15)
    assert line.standard_item_id == "09876543211234"


@pytest.mark.parametrize(
    "name",
    [
        "T111-uc004a-Invoice is rejected.xml",
        "T111-uc005-Invoice is conditionally accepted.xml",
        "T111-uc006b-Missing PO.xml",
    ],
)
@pytest.mark.parametrize("kind", ["invoice", "acknowledgment"])
def test_invoice_responses_are_refused_by_name(name, kind):
    with pytest.raises(EnvelopeError, match="ApplicationResponse is not accepted here") as caught:
        parse(shared(f"peppol-invoice-response/{name}"), XML, kind)
    assert caught.value.code == "document_type_not_accepted"
    assert caught.value.location == "/ApplicationResponse"


def test_invoice_sent_to_the_acknowledgment_endpoint_is_refused():
    with pytest.raises(EnvelopeError, match="UBL Invoice is not accepted here"):
        parse(shared("ubl/base-example.xml"), XML, "acknowledgment")


def _edited(old: bytes, new: bytes, relative: str = "ubl/base-example.xml") -> bytes:
    payload = shared(relative)
    assert old in payload
    return payload.replace(old, new, 1)


def test_missing_invoice_number_is_a_field_error():
    payload = _edited(b"<cbc:ID>Snippet1</cbc:ID>", b"<cbc:ID> </cbc:ID>")
    assert ("invoice_number", "required") in error_codes(payload, XML, "invoice")


def test_unknown_currency_and_unreadable_total_are_reported_together():
    payload = _edited(b"<cbc:DocumentCurrencyCode>EUR", b"<cbc:DocumentCurrencyCode>EUX")
    payload = payload.replace(b">1656.25</cbc:PayableAmount>", b">1.656,25</cbc:PayableAmount>")
    codes = error_codes(payload, XML, "invoice")
    assert ("currency", "unknown_currency") in codes
    assert ("totals.payable", "unreadable_amount") in codes


def test_lines_not_adding_up_to_the_line_total_name_the_path():
    payload = _edited(
        b'"EUR">1300</cbc:LineExtensionAmount>', b'"EUR">1400</cbc:LineExtensionAmount>'
    )
    assert error_codes(payload, XML, "invoice") == [("totals.line_total", "line_total_mismatch")]


def test_negative_quantity_outside_en16931_needs_a_credit_note():
    payload = _edited(b"urn:cen.eu:en16931:2017#compliant#", b"urn:example:private#")
    assert error_codes(payload, XML, "invoice") == [("lines[1].quantity", "negative_quantity")]
