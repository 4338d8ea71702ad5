"""The matching rules, as pure functions: every tolerance at, just inside and just beyond its
boundary (percent and absolute), cumulative 3-way matching over partial invoices and a credit
note, and the duplicate rules. No database, no ERP: facts in, findings out."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from app.matching.duplicates import Earlier, duplicates, normalize_number
from app.matching.facts import (
    Case,
    Context,
    History,
    InvoiceFacts,
    LineFacts,
    PoFacts,
    PoLineFacts,
    SupplierFacts,
)
from app.matching.findings import HoldCode, Severity
from app.matching.rules import check
from app.matching.tolerances import Tolerance, exceeds, for_supplier

pytestmark = pytest.mark.no_db

D = Decimal
ZERO = Decimal(0)
STRICT = Tolerance()
NOTHING_BEFORE = History()

TODAY = dt.date(2026, 12, 3)
PO = PoFacts(
    number="PO-1",
    vendor_number="V-100",
    is_open=True,
    currency="USD",
    total_amount=D("1000.00"),
    lines={
        1: PoLineFacts(1, quantity=D(10), unit_price=D("50.00"), quantity_received=D(10)),
        2: PoLineFacts(2, quantity=D(10), unit_price=D("50.00"), quantity_received=D(4)),
    },
)
SUPPLIER = SupplierFacts(
    vendor_number="V-100", active=True, verified_account="DE89370400440532013000"
)


def invoice(
    *lines: LineFacts, tax: Decimal = ZERO, payable: Decimal | None = None, **changes
) -> InvoiceFacts:
    lines = lines or (LineFacts("1", D(10), D("50.00"), D("500.00"), 1),)
    line_total = sum((line.amount for line in lines), D(0))
    facts = InvoiceFacts(
        number="INV-1",
        issue_date=TODAY,
        currency="USD",
        is_credit=False,
        po_number="PO-1",
        lines=lines,
        line_total=line_total,
        tax_total=tax,
        payable=line_total + tax if payable is None else payable,
    )
    return replace(facts, **changes)


def codes(inv: InvoiceFacts, *, po=PO, tolerance=STRICT, history=NOTHING_BEFORE, supplier=SUPPLIER):
    case = Case(inv, po, supplier, Context(tolerance, TODAY, frozenset({"CC-7"})), history)
    return [finding.code for finding in check(case)]


def line(quantity: str, price: str, po_line: int = 1, line_id: str = "1") -> LineFacts:
    q, p = D(quantity), D(price)
    return LineFacts(line_id, q, p, (q * p).quantize(D("0.01")), po_line)


def test_a_clean_invoice_has_no_finding():
    assert codes(invoice()) == []


# -- tolerances -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "percent", "amount", "held"),
    [
        (D(100), D(100), D(0), None, False),  # 0 % allows no variance: equal passes
        (D(100), D("100.01"), D(0), None, True),  # ... and a cent over is held
        (D(100), D(105), D(5), None, False),  # at the percent boundary
        (D(100), D("105.01"), D(5), None, True),  # just beyond it
        (D(100), D("104.99"), D(5), None, False),  # just inside it
        (D(100), D(102), None, D(2), False),  # at the absolute boundary
        (D(100), D("102.01"), None, D(2), True),  # just beyond it
        (D(100), D(1000), None, None, False),  # empty means unlimited
        (D(100), D(104), D(5), D(3), True),  # both apply: the absolute one is exceeded
        (D(100), D(90), D(0), D(0), False),  # billing less is never a variance
    ],
)
def test_tolerance_boundaries(expected, actual, percent, amount, held):
    assert exceeds(expected, actual, percent, amount) is held


def test_a_supplier_override_replaces_the_global_template():
    loose = Tolerance(price_percent=D(10))
    assert for_supplier(Tolerance(), loose) is loose
    assert for_supplier(Tolerance(), None) == Tolerance()


# -- 2-way: price and quantity against the PO -------------------------------------------------


@pytest.mark.parametrize(
    ("price", "tolerance", "held"),
    [
        ("50.00", Tolerance(), False),
        ("50.01", Tolerance(), True),
        ("52.50", Tolerance(price_percent=D(5)), False),
        ("52.51", Tolerance(price_percent=D(5)), True),
        ("51.00", Tolerance(price_percent=None, price_amount=D(1)), False),
        ("51.01", Tolerance(price_percent=None, price_amount=D(1)), True),
    ],
)
def test_price_against_the_po_line(price, tolerance, held):
    found = codes(invoice(line("10", price)), tolerance=replace(tolerance, amount_percent=None))
    assert (HoldCode.PRICE in found) is held


def test_a_price_hold_says_what_was_expected_and_what_is_at_risk():
    case = Case(
        invoice(line("10", "150.00")), PO, SUPPLIER, Context(Tolerance(amount_percent=None), TODAY)
    )
    (finding,) = check(case)
    assert (finding.code, finding.expected, finding.actual) == (HoldCode.PRICE, "50.00", "150.00")
    assert finding.amount_at_risk == D("1000.00")
    assert "higher than the purchase order" in finding.supplier
    assert "PO line 1" in finding.finance
    assert "PO line" not in finding.supplier


@pytest.mark.parametrize(
    ("quantity", "percent", "held"),
    [("10", D(0), False), ("11", D(0), True), ("11", D(10), False), ("12", D(10), True)],
)
def test_quantity_ordered(quantity, percent, held):
    tolerance = Tolerance(quantity_percent=percent, received_percent=None, amount_percent=None)
    assert (
        HoldCode.QTY_ORDERED in codes(invoice(line(quantity, "50")), tolerance=tolerance)
    ) is held


# -- 3-way and cumulative ---------------------------------------------------------------------


def test_the_invoice_that_crosses_the_ordered_quantity_is_the_one_held():
    tolerance = Tolerance(received_percent=None)
    billed = D(0)
    held_at = []
    for number, quantity in enumerate(["3", "3", "3", "3"], 1):
        inv = invoice(line(quantity, "50"), number=f"INV-{number}")
        if HoldCode.QTY_ORDERED in codes(inv, tolerance=tolerance, history=History({1: billed})):
            held_at.append(number)
        billed += D(quantity)
    assert held_at == [4]  # 3 + 3 + 3 = 9 of 10 pass; the fourth makes 12


def test_a_credit_note_gives_back_what_it_credits():
    tolerance = Tolerance(received_percent=None)
    # 9 billed, then a credit of 2 (recorded as -2 in the history): 7 + 3 = 10 passes.
    after_credit = History({1: D(9) - D(2)})
    assert codes(invoice(line("3", "50")), tolerance=tolerance, history=after_credit) == []
    assert HoldCode.QTY_ORDERED in codes(
        invoice(line("3", "50")), tolerance=tolerance, history=History({1: D(9)})
    )


def test_a_credit_note_itself_is_not_price_or_quantity_checked():
    credit = invoice(line("30", "99"), is_credit=True)
    assert codes(credit, tolerance=Tolerance(amount_percent=None)) == []


def test_three_way_holds_what_was_not_received_and_says_how_much_is_at_risk():
    inv = invoice(line("6", "50", po_line=2))
    case = Case(inv, PO, SUPPLIER, Context(Tolerance(), TODAY))
    (finding,) = check(case)
    assert finding.code == HoldCode.QTY_RECEIVED
    assert (finding.expected, finding.actual) == ("4", "6")
    assert finding.amount_at_risk == D("100.00")  # 2 units beyond what was received, at 50


def test_a_late_receipt_lets_the_same_invoice_pass():
    inv = invoice(line("6", "50", po_line=2))
    received = replace(PO, lines={**PO.lines, 2: replace(PO.lines[2], quantity_received=D(6))})
    assert HoldCode.QTY_RECEIVED in codes(inv)
    assert codes(inv, po=received) == []


def test_cumulative_amount_against_the_po_total():
    tolerance = Tolerance(quantity_percent=None, received_percent=None)
    history = History({1: D(0)}, amount=D("600.00"))
    assert HoldCode.AMOUNT_ORDERED in codes(
        invoice(line("9", "50")), tolerance=tolerance, history=history
    )
    assert codes(invoice(line("8", "50")), tolerance=tolerance, history=history) == []


# -- every tolerance through its rule: at, just inside, just beyond; 0 and empty ---------------
# Each case runs the whole rule set and expects exactly the one code (or none), so a boundary
# that leaks into another rule shows too. PO line 1: 10 ordered and received at 50.00; PO line
# 2: 10 ordered, 4 received; the PO's total 1,000.00.

LOOSE = Tolerance(
    price_percent=None,
    quantity_percent=None,
    received_percent=None,
    amount_percent=None,
    tax_amount=None,
    total_amount=None,
)


def only(code: HoldCode, held: bool) -> list[HoldCode]:
    return [code] if held else []


@pytest.mark.parametrize(
    ("price", "percent", "amount", "held"),
    [
        ("52.50", D(5), None, False),  # price_percent 5: at the boundary
        ("52.49", D(5), None, False),  # just inside
        ("52.51", D(5), None, True),  # just beyond
        ("50.00", D(0), None, False),  # 0: no variance, the PO price passes
        ("50.01", D(0), None, True),  # ... a cent more is held
        ("500.00", None, None, False),  # empty: unlimited
        ("51.00", None, D(1), False),  # price_amount 1.00 a unit: at
        ("50.99", None, D(1), False),  # just inside
        ("51.01", None, D(1), True),  # just beyond
        ("50.01", None, D(0), True),  # 0: no variance
        ("51.50", D(5), D(1), True),  # both apply: inside 5 %, beyond 1.00
    ],
)
def test_price_tolerance_boundaries(price, percent, amount, held):
    tolerance = replace(LOOSE, price_percent=percent, price_amount=amount)
    assert codes(invoice(line("10", price)), tolerance=tolerance) == only(HoldCode.PRICE, held)


@pytest.mark.parametrize(
    ("quantity", "percent", "held"),
    [
        ("11", D(10), False),  # quantity_percent 10 of 10 ordered: at
        ("10.99", D(10), False),  # just inside
        ("11.01", D(10), True),  # just beyond
        ("10", D(0), False),  # 0: exactly what was ordered
        ("10.01", D(0), True),  # ... and no more
        ("100", None, False),  # empty: unlimited
    ],
)
def test_quantity_ordered_tolerance_boundaries(quantity, percent, held):
    tolerance = replace(LOOSE, quantity_percent=percent)
    found = codes(invoice(line(quantity, "50.00")), tolerance=tolerance)
    assert found == only(HoldCode.QTY_ORDERED, held)


@pytest.mark.parametrize(
    ("quantity", "percent", "held"),
    [
        ("5", D(25), False),  # received_percent 25 of 4 received (PO line 2): at
        ("4.99", D(25), False),  # just inside
        ("5.01", D(25), True),  # just beyond
        ("4", D(0), False),  # 0: exactly what was received
        ("4.01", D(0), True),  # ... and no more
        ("10", None, False),  # empty: unlimited (all 10 ordered, 4 received)
    ],
)
def test_quantity_received_tolerance_boundaries(quantity, percent, held):
    tolerance = replace(LOOSE, received_percent=percent)
    found = codes(invoice(line(quantity, "50.00", po_line=2)), tolerance=tolerance)
    assert found == only(HoldCode.QTY_RECEIVED, held)


@pytest.mark.parametrize(
    ("billed_before", "percent", "amount", "held"),
    [
        # This invoice bills 500.00 of the PO's 1,000.00; earlier invoices the rest.
        ("600.00", D(10), None, False),  # amount_percent 10: 1,100.00 in all, at
        ("599.99", D(10), None, False),  # just inside
        ("600.01", D(10), None, True),  # just beyond
        ("500.00", D(0), None, False),  # 0: exactly the PO's total
        ("500.01", D(0), None, True),  # ... and not a cent more
        ("9000.00", None, None, False),  # empty: unlimited
        ("550.00", None, D(50), False),  # amount_amount 50.00: at
        ("549.99", None, D(50), False),  # just inside
        ("550.01", None, D(50), True),  # just beyond
        ("500.01", None, D(0), True),  # 0: no variance
    ],
)
def test_amount_ordered_tolerance_boundaries(billed_before, percent, amount, held):
    tolerance = replace(LOOSE, amount_percent=percent, amount_amount=amount)
    history = History({1: D(0)}, amount=D(billed_before))
    found = codes(invoice(), tolerance=tolerance, history=history)
    assert found == only(HoldCode.AMOUNT_ORDERED, held)


@pytest.mark.parametrize(
    ("breakdown", "limit", "held"),
    [
        ("9.99", D("0.01"), False),  # tax_amount 0.01: a cent under, at
        ("10.01", D("0.01"), False),  # a cent over, at (either way)
        ("10.00", D("0.01"), False),  # inside
        ("9.98", D("0.01"), True),  # just beyond, under
        ("10.02", D("0.01"), True),  # just beyond, over
        ("10.00", D(0), False),  # 0: they must agree
        ("9.99", D(0), True),  # ... to the cent
        ("0.00", None, False),  # empty: unlimited
    ],
)
def test_tax_tolerance_boundaries(breakdown, limit, held):
    inv = invoice(tax=D("10.00"), tax_breakdown=D(breakdown))
    found = codes(inv, tolerance=replace(LOOSE, tax_amount=limit))
    assert found == only(HoldCode.TAX_VARIANCE, held)


@pytest.mark.parametrize(
    ("payable", "limit", "held"),
    [
        ("510.00", D(0), False),  # total_amount 0: it must add up exactly
        ("510.01", D(0), True),
        ("999.00", None, False),  # empty: unlimited
    ],
)
def test_total_tolerance_zero_and_empty(payable, limit, held):
    inv = invoice(tax=D("10.00"), payable=D(payable))
    found = codes(inv, tolerance=replace(LOOSE, total_amount=limit))
    assert found == only(HoldCode.TOTAL_MISMATCH, held)


@pytest.mark.parametrize(
    ("days_ago", "window", "held"),
    [
        (30, 30, False),  # changed 30 days ago with a 30-day window: the window has passed
        (29, 30, True),  # a day inside the window
        (31, 30, False),  # a day beyond it
        (0, 30, True),  # changed today
        (0, 0, False),  # 0: no waiting period at all
    ],
)
def test_bank_change_window_boundaries(days_ago, window, held):
    changed = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(12), dt.UTC)
    case = Case(
        invoice(),
        PO,
        replace(SUPPLIER, bank_changed_at=changed),
        Context(Tolerance(), TODAY, bank_change_days=window),
    )
    assert [f.code for f in check(case)] == only(HoldCode.BANK_DETAILS, held)


# -- the PO, the supplier and the document ----------------------------------------------------


def test_po_rules():
    assert codes(invoice(), po=None) == [HoldCode.PO_NOT_FOUND]
    assert HoldCode.PO_CLOSED in codes(invoice(), po=replace(PO, is_open=False))
    other = replace(PO, vendor_number="V-999")
    assert HoldCode.SUPPLIER_MISMATCH in codes(invoice(), po=other)
    assert codes(invoice(currency="EUR")) == [HoldCode.CURRENCY]
    assert codes(invoice(line("1", "50", po_line=9))) == [HoldCode.LINE_UNMATCHED]


def test_a_supplier_never_approved_is_rejected_a_suspended_one_is_held():
    case = Case(invoice(), PO, replace(SUPPLIER, active=False), Context(Tolerance(), TODAY))
    (finding,) = check(case)
    assert (finding.code, finding.severity) == (HoldCode.SUPPLIER_INACTIVE, Severity.REJECT)
    suspended = replace(SUPPLIER, active=False, suspended=True)
    (finding,) = check(replace(case, supplier=suspended))
    assert (finding.code, finding.severity) == (HoldCode.SUPPLIER_INACTIVE, Severity.HOLD)
    assert "waits until it is reactivated" in finding.supplier


@pytest.mark.parametrize(
    ("payable", "held"), [("510.00", False), ("510.01", False), ("510.02", True), ("509.98", True)]
)
def test_total_must_add_up_within_a_cent(payable, held):
    inv = invoice(tax=D("10.00"), payable=D(payable))
    assert (HoldCode.TOTAL_MISMATCH in codes(inv)) is held


def test_tax_total_against_its_breakdown():
    inv = invoice(tax=D("10.00"), tax_breakdown=D("8.00"))
    assert HoldCode.TAX_VARIANCE in codes(inv)
    assert codes(replace(inv, tax_breakdown=D("10.00"))) == []


@pytest.mark.parametrize(
    ("days", "held"), [(0, False), (1, False), (2, True), (-365, False), (-366, True)]
)
def test_invoice_date_neither_future_nor_far_past(days, held):
    inv = invoice(issue_date=TODAY + dt.timedelta(days=days))
    assert (HoldCode.DATE in codes(inv)) is held


def test_a_non_po_invoice_needs_a_valid_cost_centre():
    assert codes(invoice(po_number=None), po=None) == [HoldCode.COST_CENTER]
    assert codes(invoice(po_number=None, cost_centre="CC-0"), po=None) == [HoldCode.COST_CENTER]
    assert codes(invoice(po_number=None, cost_centre="CC-7"), po=None) == []


def test_bank_details_other_than_the_verified_ones_or_changed_recently():
    assert codes(invoice(remit_account="DE89370400440532013000")) == []
    assert codes(invoice(remit_account="GB33BUKB20201555555555")) == [HoldCode.BANK_DETAILS]
    recent = replace(SUPPLIER, bank_changed_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert codes(invoice(), supplier=recent) == [HoldCode.BANK_DETAILS]
    settled = replace(SUPPLIER, bank_changed_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert codes(invoice(), supplier=settled) == []


# -- duplicates -------------------------------------------------------------------------------


def earlier(number: str, amount: str = "500.00", days_ago: int = 0, *, credit: bool = False):
    return Earlier(1, number, D(amount), TODAY - dt.timedelta(days=days_ago), credit)


@pytest.mark.parametrize("written", ["inv-00042", "INV 42", "Inv.0042", " inv/42 "])
def test_the_same_number_written_another_way_is_a_duplicate(written):
    assert normalize_number(written) == "INV42"
    (finding,) = duplicates(written, D(1), TODAY, False, [earlier("INV-42", days_ago=400)])
    assert finding.code == HoldCode.DUPLICATE
    assert "already sent" in finding.supplier


@pytest.mark.parametrize("written", ["a7-0042", "A7 42", "A7/00042"])
def test_padding_after_a_digit_and_a_separator_is_the_same_number(written):
    # Found by the labelled corpus: zeros were stripped only after the punctuation was gone,
    # so `A7-0042` kept them (`A70042`) while `A7 42` became `A742`.
    assert normalize_number(written) == "A742"
    (finding,) = duplicates(written, D(1), TODAY, False, [earlier("A7-42", days_ago=3)])
    assert finding.code == HoldCode.DUPLICATE


def test_zeros_inside_a_group_are_kept():
    assert normalize_number("INV10042") == "INV10042"
    assert normalize_number("2024-0007") == "20247"


def test_a_likely_duplicate_needs_similar_number_same_amount_and_a_near_date():
    assert duplicates("INV-1043", D("500.00"), TODAY, False, [earlier("INV-1042", days_ago=7)])
    assert not duplicates("INV-1043", D("500.01"), TODAY, False, [earlier("INV-1042")])
    assert not duplicates("INV-1043", D("500.00"), TODAY, False, [earlier("INV-1042", days_ago=8)])
    assert not duplicates("XYZ-77", D("500.00"), TODAY, False, [earlier("INV-1042")])


def test_a_credit_note_is_never_a_duplicate_of_its_invoice():
    assert duplicates("INV-42", D("500.00"), TODAY, True, [earlier("INV-42")]) == []
    assert duplicates("INV-42", D("500.00"), TODAY, False, [earlier("INV-42", credit=True)]) == []


def test_a_credit_note_takes_off_what_it_credits_whichever_sign_it_is_written_in():
    # Found by the labelled corpus: a cXML, X12 or CSV credit note states negative figures,
    # and counting it as "minus a negative" added the credited units to what was billed.
    positive = invoice(is_credit=True)
    negative = invoice(
        LineFacts("1", D(-10), D("50.00"), D("-500.00"), 1), is_credit=True, payable=D("-500.00")
    )
    assert positive.billed_sign * positive.lines[0].quantity == D(-10)
    assert negative.billed_sign * negative.lines[0].quantity == D(-10)
    assert invoice().billed_sign == 1


def test_the_number_key_migration_rekeys_as_validation_now_keys():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migrations/versions/0018_number_keys.py"
    spec = importlib.util.spec_from_file_location("number_keys_migration", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for number in ("A7-0042", "inv-00042", "2024/0007", "INV10042", "x 0 0"):
        assert migration._new_key(number) == normalize_number(number)
    assert migration._old_key("A7-0042") == "A70042"
