"""cXML invoices and confirmations normalize field by field; other cXML requests are refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.formats import EnvelopeError, parse
from tests.formats.helpers import error_codes, local, parse_ok, shared

pytestmark = pytest.mark.no_db

XML = "text/xml"

D = Decimal  # short name keeps the expected values readable


def test_invoice_with_tax_at_line():
    (invoice,) = parse_ok(shared("cxml/invoice_taxes_at_line.xml"), XML, "invoice")
    assert (invoice.invoice_number, invoice.document_type) == ("3495", "invoice")
    assert invoice.issue_date == date(2009, 5, 1)
    assert invoice.due_date == date(2009, 5, 31)  # payInNumberOfDays counts from the invoice date
    assert invoice.payment_terms.net_days == 30
    assert invoice.currency == "USD"
    assert [(i.scheme, i.value) for i in invoice.supplier.identifiers] == [("DUNS", "supplierid")]
    assert invoice.buyer.identifiers[0].value == "buyerid"
    assert invoice.po_number == "123"
    (line,) = invoice.lines
    assert (line.line_id, line.quantity, line.unit_code) == ("1", D("1"), "EA")
    assert (line.unit_price, line.line_extension_amount) == (D("365"), D("365"))
    assert (line.tax_amount, line.tax_rate, line.tax_category) == (D("8"), D("8.25"), "CA")
    assert (line.po_number, line.po_line) == ("123", "1")
    assert line.description.startswith("NEW 1 NINTENDO WII")
    assert [(c.reason, c.amount) for c in invoice.allowances_charges] == [
        ("special handling", D("5")),
        ("shipping", D("30")),
    ]
    t = invoice.totals
    assert (t.line_total, t.charge_total, t.tax_total) == (D("365"), D("35"), D("8"))
    # NetAmount is an empty <Money/>: the payable amount is derived from the summary.
    assert (t.tax_exclusive, t.tax_inclusive, t.payable) == (D("400"), D("408"), D("408"))


def test_invoice_backed_by_two_purchase_orders():
    (invoice,) = parse_ok(shared("cxml/invoice_backed_by_multiple_pos.xml"), XML, "invoice")
    assert invoice.invoice_number == "INV00001"
    assert invoice.issue_date == date(2010, 12, 16)
    assert invoice.po_number is None  # two orders: the PO is per line
    assert [
        (
            line.line_id,
            line.po_number,
            line.po_line,
            line.quantity,
            line.unit_price,
            line.line_extension_amount,
        )
        for line in invoice.lines
    ] == [
        ("1", "2252", "1", D("2.00"), D("100"), D("200")),
        ("2", "2253", "1", D("2"), D("10"), D("20")),
    ]
    assert [line.description for line in invoice.lines] == ["Item1", "Test Item"]
    assert (invoice.totals.line_total, invoice.totals.tax_total) == (D("220.00"), D("0"))
    assert invoice.allowances_charges == []  # zero shipping/handling are placeholders
    # The sender states NetAmount 0: carried as sent; the validate stage holds it (TOTAL_MISMATCH).
    assert invoice.totals.payable == D("0")


@pytest.mark.parametrize(
    ("name", "request_name"),
    [
        ("StatusUpdateRequest.xml", "StatusUpdateRequest"),
        ("ShipNoticeRequest.xml", "ShipNoticeRequest"),
    ],
)
@pytest.mark.parametrize("kind", ["invoice", "acknowledgment"])
def test_other_cxml_requests_are_refused_by_name(name, request_name, kind):
    with pytest.raises(EnvelopeError, match=f"cXML {request_name} is not accepted here") as caught:
        parse(shared(f"cxml/{name}"), XML, kind)
    assert caught.value.location == f"/cXML/Request/{request_name}"


def test_credit_memo_with_remit_to_bank_and_discount_terms():
    (memo,) = parse_ok(local("cxml_credit_memo.xml"), XML, "invoice")
    assert memo.document_type == "credit_note"
    assert memo.supplier.name == "Acme Medical Supply"
    assert memo.supplier.addresses[0].city == "Boston"
    assert memo.supplier.tax_ids[0].value == "12-3456789"
    assert (memo.remit_to.account_number, memo.remit_to.routing_number) == (
        "000123456",
        "011000015",
    )
    assert memo.buyer.name == "General Hospital"
    terms = memo.payment_terms
    assert (terms.net_days, terms.discount_percent, terms.discount_days) == (30, D("2"), 10)
    assert memo.lines[0].quantity == D("-2")
    assert memo.lines[0].supplier_item_id == "GZ-44"
    assert memo.totals.payable == D("-19.50")
    assert memo.notes == ["Returned damaged goods."]


def test_detailed_confirmation_lines_accept_change_reject():
    (ack,) = parse_ok(local("cxml_confirmation_detail.xml"), XML, "acknowledgment")
    assert (ack.ack_number, ack.po_number, ack.issue_date) == (
        "CONF-77",
        "PO-4501",
        date(2024, 3, 2),
    )
    assert ack.status == "accepted_with_changes"
    assert ack.currency == "USD"
    accepted, changed, rejected = ack.lines
    assert (accepted.status, accepted.changed_quantity, accepted.changed_delivery_date) == (
        "accept",
        None,
        date(2024, 3, 10),
    )
    assert (changed.status, changed.original_quantity, changed.changed_quantity) == (
        "change",
        D("50"),
        D("30"),
    )
    assert (changed.changed_unit_price, changed.changed_delivery_date) == (
        D("9.75"),
        date(2024, 3, 20),
    )
    assert (rejected.status, rejected.reason) == ("reject", "Discontinued item.")


def test_header_only_accept_and_reject_confirmations():
    (accepted,) = parse_ok(local("cxml_confirmation_accept.xml"), XML, "acknowledgment")
    assert (accepted.status, accepted.po_number, accepted.lines) == ("accepted", "PO-4502", [])
    (rejected,) = parse_ok(local("cxml_confirmation_reject.xml"), XML, "acknowledgment")
    assert (rejected.status, rejected.ack_number) == ("rejected", "CONF-79")
    assert rejected.reason == "Ship-to facility is outside our delivery area."


def test_confirmation_sent_as_an_invoice_is_refused():
    with pytest.raises(EnvelopeError, match="ConfirmationRequest is not accepted here"):
        parse(local("cxml_confirmation_accept.xml"), XML, "invoice")


def test_missing_invoice_id_and_unknown_currency_are_collected():
    payload = shared("cxml/invoice_taxes_at_line.xml").replace(b'invoiceID="3495" ', b"")
    payload = payload.replace(b'currency="USD"', b'currency="ZZZ"')
    codes = error_codes(payload, XML, "invoice")
    assert ("invoice_number", "required") in codes
    assert ("currency", "unknown_currency") in codes


def test_negative_quantity_on_a_standard_cxml_invoice_is_refused():
    payload = shared("cxml/invoice_taxes_at_line.xml").replace(b'quantity="1"', b'quantity="-1"')
    assert error_codes(payload, XML, "invoice") == [("lines[0].quantity", "negative_quantity")]


def test_a_payment_term_of_more_days_than_a_date_can_move_gives_no_due_date():
    from app.formats.cxml import _due_date

    assert _due_date("2024-05-01", "9" * 20) is None  # OverflowError, not a failing job
    assert _due_date("2024-05-01", "\u00b2") is None
    assert _due_date("2024-05-01", "30") == "2024-05-31"
