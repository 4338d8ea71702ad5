"""X12 810 and 855 interchanges: every sample field by field, delimiters, envelopes, garbage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.formats import EnvelopeError, parse, split
from tests.formats.helpers import local, parse_ok, shared

pytestmark = pytest.mark.no_db

EDI = "application/edi-x12"

D = Decimal  # short name keeps the expected values readable


def test_walmart_810_single_line_with_allowance():
    (invoice,) = parse_ok(shared("x12/Example5_Walmart.txt"), EDI, "invoice")
    assert (invoice.invoice_number, invoice.issue_date) == ("6463367", date(2005, 2, 5))
    assert invoice.po_number == "3376103367"
    assert invoice.currency == "USD"
    assert invoice.supplier.name == "SUPPLIER NAME"
    assert invoice.supplier.erp_vendor_number == "123456170"  # REF*IA
    assert invoice.ship_to.name == "WAL-MART 100"
    assert invoice.ship_to.addresses[0].city == "BENTONVILLE"
    assert invoice.payment_terms.net_days == 45
    assert invoice.due_date is None  # ITD basis is receipt of goods; no net due date sent
    (line,) = invoice.lines
    assert (line.quantity, line.unit_code, line.unit_price) == (D("1080"), "EA", D("3.61"))
    assert (line.buyer_item_id, line.standard_item_id) == ("001719653", "022108955228")
    assert line.description == "ITEM DESCRIPTION"
    (allowance,) = line.allowances_charges
    assert (allowance.is_charge, allowance.amount, allowance.reason_code) == (
        False,
        D("23.50"),
        "I410",
    )
    assert line.line_extension_amount == D("3875.30")  # 1080 x 3.61 - 23.50
    assert (invoice.totals.line_total, invoice.totals.payable) == (D("3875.30"), D("3875.30"))


def test_multi_invoice_004030_two_sets_with_gst_and_terms():
    first, second = parse_ok(shared("x12/Example3_MultiInvoice.txt"), EDI, "invoice")
    assert (first.invoice_number, second.invoice_number) == ("465266", "465267")
    assert first.po_number == second.po_number == "539893"
    assert first.issue_date == date(2002, 5, 24)
    assert first.supplier.name == "BARRY AND LAMB CAN"
    assert [(t.scheme, t.value) for t in first.supplier.tax_ids] == [("GST", "R100420888")]
    assert first.buyer.name == "MACDONALDS CONSOLIDATED LTD"
    assert first.ship_to.name == "MACDONALDS CO A DIV OF CANADA"
    terms = first.payment_terms
    assert (terms.discount_percent, terms.discount_days, terms.net_days) == (D("1"), 15, 30)
    assert (terms.discount_due_date, first.due_date) == (date(2002, 6, 8), date(2002, 6, 23))
    assert [
        (
            line.quantity,
            line.unit_code,
            line.unit_price,
            line.line_extension_amount,
            line.tax_amount,
        )
        for line in first.lines
    ] == [
        (D("16"), "CA", D("52.56"), D("840.96"), D("58.87")),
        (D("12"), "CA", D("207.72"), D("2492.64"), D("174.48")),
        (D("18"), "CA", D("169.2"), D("3045.6"), D("213.19")),
        (D("9"), "CA", D("166.8"), D("1501.2"), D("105.08")),
    ]
    assert first.lines[0].description == "SSS CONVENIENT SIZE - 120ML"
    assert first.lines[0].tax_rate == D("7")
    t = first.totals
    assert (t.line_total, t.tax_total, t.tax_inclusive, t.payable) == (
        D("7880.40"),
        D("551.62"),
        D("8432.02"),
        D("8432.02"),
    )
    (only,) = second.lines
    assert (only.quantity, only.unit_price, only.line_extension_amount) == (
        D("11"),
        D("96"),
        D("1056"),
    )
    assert (second.totals.tax_total, second.totals.payable) == (D("73.92"), D("1129.92"))


def test_multi_invoice_results_carry_their_slice_of_the_payload():
    payload = shared("x12/Example3_MultiInvoice.txt")
    result = parse(payload, EDI, "invoice")
    assert [doc.identity for doc in result.documents] == ["ST 2240001 (810)", "ST 2240002 (810)"]
    for doc in result.documents:
        start, end = doc.span
        assert payload[start:end].startswith(b"ST*810*")
        assert payload[start:end].rstrip(b"~").split(b"\n")[-1].lstrip().startswith(b"SE*")


def test_simmons_855_two_acknowledgments():
    first, second = parse_ok(shared("x12/855SSimmons.txt"), EDI, "acknowledgment")
    assert (first.ack_number, first.po_number, first.issue_date) == (
        "83517234",
        "7542",
        date(2011, 9, 28),
    )
    assert (first.status, first.promised_delivery_date) == ("accepted", date(2011, 10, 7))
    assert first.ship_to.name == "SLEEP TRAIN"
    assert first.supplier.identifiers[-1].value == "121792154"  # from the ISA sender
    assert [
        (
            line.po_line,
            line.status,
            line.original_quantity,
            line.original_unit_price,
            line.buyer_item_id,
            line.supplier_item_id,
        )
        for line in first.lines
    ] == [
        ("100", "accept", D("1"), D("7700"), "4620451B", "64620451"),
        ("200", "accept", D("1"), D("23500"), "1528451M", "51528451"),
    ]
    assert (second.ack_number, second.po_number, len(second.lines)) == ("83517334", "99035", 1)
    assert second.lines[0].original_unit_price == D("9000")


def test_adobe_855_parties_and_line():
    (ack,) = parse_ok(shared("x12/Example1_Adobe.txt"), None, "acknowledgment")
    assert (ack.ack_number, ack.po_number) == ("852281220", "0132710645")  # no BAK08: ST02
    assert (ack.issue_date, ack.currency, ack.status) == (date(2009, 6, 12), "USD", "accepted")
    assert ack.supplier.name == "ADOBE SYSTEMS INCORPORATED"
    assert ack.buyer.name == "PURCHASING PARTY"
    assert ack.ship_to.addresses[0].city == "SEATTLE"
    assert ack.ship_to.contact.name == "JOHN DOE"
    (line,) = ack.lines
    assert (line.po_line, line.original_quantity, line.original_unit_price) == (
        "000010",
        D("1"),
        D("369"),
    )
    assert (line.supplier_item_id, line.buyer_item_id) == ("00065008880AD01A00", "T05249")
    assert line.description == "APRO,9.0,WIN,AOO,UE,1PK,N/A"


def test_005010_with_pipes_carets_and_newline_terminators():
    invoice, credit = parse_ok(local("x12_810_005010_pipes.txt"), EDI, "invoice")
    assert invoice.supplier.erp_vendor_number == "V-0042"
    assert invoice.supplier.addresses[0].postal_code == "02110"
    assert invoice.buyer.name == "GENERAL HOSPITAL"
    assert [(line.po_number, line.po_line) for line in invoice.lines] == [
        ("PO-4501", "1"),
        (None, "2"),
    ]
    assert invoice.lines[1].description == "TAPE, 1 INCH"
    (freight,) = invoice.allowances_charges
    assert (freight.is_charge, freight.amount, freight.reason) == (True, D("10.00"), "FREIGHT")
    t = invoice.totals
    assert (t.line_total, t.charge_total, t.tax_total, t.payable) == (
        D("55.00"),
        D("10.00"),
        D("5.50"),
        D("70.50"),
    )
    assert credit.document_type == "credit_note"  # BIG07 = CR
    assert (credit.lines[0].quantity, credit.totals.payable) == (D("-2"), D("-5.00"))


def test_855_with_bom_crlf_tabs_and_ack_segments():
    (ack,) = parse_ok(local("x12_855_ack_crlf_bom.txt"), "text/plain", "acknowledgment")
    assert (ack.ack_number, ack.status) == ("SO-9", "accepted_with_changes")
    accepted, reduced, rejected = ack.lines
    assert (accepted.status, accepted.changed_delivery_date) == ("accept", date(2024, 3, 10))
    assert (reduced.status, reduced.original_quantity, reduced.changed_quantity) == (
        "change",
        D("50"),
        D("30"),
    )
    assert rejected.status == "reject"


def test_810_posted_as_an_acknowledgment_is_refused():
    with pytest.raises(EnvelopeError, match="X12 810 is not accepted here") as caught:
        parse(shared("x12/Example5_Walmart.txt"), EDI, "acknowledgment")
    assert caught.value.location == "segment 3 (ST)"


def test_unreadable_tds_is_a_field_error_on_the_payable_amount():
    payload = shared("x12/Example5_Walmart.txt").replace(b"TDS*387530", b"TDS*38753O")
    (doc,) = parse(payload, EDI, "invoice").documents
    assert [(e.path, e.code) for e in doc.errors.errors] == [
        ("totals.payable", "unreadable_amount")
    ]


def test_missing_invoice_number_and_negative_quantity_are_collected():
    payload = shared("x12/Example5_Walmart.txt").replace(
        b"BIG*20050205*6463367*", b"BIG*20050205**"
    )
    payload = payload.replace(b"IT1**1080*", b"IT1**-1080*")
    (doc,) = parse(payload, EDI, "invoice").documents
    codes = {(e.path, e.code) for e in doc.errors.errors}
    assert codes == {("invoice_number", "required"), ("lines[0].quantity", "negative_quantity")}


@pytest.mark.timeout(5)
def test_truncated_interchange_names_the_last_segment():
    payload = shared("x12/Example3_MultiInvoice.txt")
    cut = payload[: payload.index(b"SE*17*2240002")]
    with pytest.raises(EnvelopeError, match=r"ST 2240002 has no SE|ends before") as caught:
        parse(cut, EDI, "invoice")
    assert caught.value.location.startswith("segment ")


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    "payload",
    [
        b"ISA*00*short*P*>~GS*IN~",
        b"ISA*00*          *00*          *ZZ*A              *ZZ*B              "
        b"*240101*1200*U*00401*000000001*0*P*>>>>>>>>",
        b"GS*IN*A*B*20240101*1200*1*X*004010~",
    ],
    ids=["too-short", "not-fixed-width", "no-isa"],
)
def test_bad_isa_is_an_envelope_error(payload):
    with pytest.raises(EnvelopeError) as caught:
        parse(payload, EDI, "invoice")
    assert caught.value.code == "bad_isa"
    assert caught.value.location.startswith("segment 1")


@pytest.mark.timeout(5)
def test_segment_count_mismatch_is_an_envelope_error():
    payload = shared("x12/Example5_Walmart.txt").replace(b"SE*20*0001", b"SE*21*0001")
    with pytest.raises(EnvelopeError, match="SE says 21 segments but the set has 20"):
        parse(payload, EDI, "invoice")


@pytest.mark.parametrize("kind", ["invoice", "acknowledgment"])
def test_invalid_utf8_is_refused_naming_its_byte_offset(kind):
    """Like JSON and CSV: never replaced by U+FFFD and sent on."""
    sample = local("x12_810_005010_pipes.txt")
    payload = sample.replace(b"ACME MEDICAL SUPPLY", b"ACME M\xe9DICAL SUPPLY")  # Latin-1 É
    offset = payload.index(b"\xe9")
    for entry in (parse, split):
        with pytest.raises(EnvelopeError, match="ASCII or UTF-8") as caught:
            entry(payload, EDI, kind)
        assert caught.value.location == f"byte {offset}"
        assert caught.value.code == "malformed"


def test_utf8_names_are_still_read():
    payload = local("x12_810_005010_pipes.txt").replace(b"ACME MEDICAL", "ACMÉ MÉDICAL".encode())
    first, *_ = parse_ok(payload, EDI, "invoice")
    assert first.supplier.name == "ACMÉ MÉDICAL SUPPLY"


def test_a_delimiter_past_ascii_is_refused():
    payload = local("x12_810_005010_pipes.txt").replace(b"|", b"\xa6")
    with pytest.raises(EnvelopeError, match="ASCII punctuation"):
        parse(payload, EDI, "invoice")
