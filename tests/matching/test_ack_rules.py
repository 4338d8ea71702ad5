"""The acknowledgment rules, as pure functions: the PO must exist, be open and be the sender's
(else the acknowledgment goes back); accepted lines confirm; a changed price, quantity or date
is a hold for the buyer; rejected lines are recorded; a line the PO lacks is held. Also the
BANK_DETAILS rule against what the ERP's vendor record pays to."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from app.matching import ack_rules
from app.matching.facts import (
    AckCase,
    AckFacts,
    AckLineFacts,
    Case,
    Context,
    InvoiceFacts,
    LineFacts,
    PoFacts,
    PoLineFacts,
    SupplierFacts,
)
from app.matching.findings import HoldCode, Severity
from app.matching.rules import check
from app.matching.tolerances import Tolerance

pytestmark = pytest.mark.no_db

D = Decimal
NEED_BY = dt.date(2026, 12, 20)
PO = PoFacts(
    number="PO-1",
    vendor_number="V-100",
    is_open=True,
    currency="USD",
    total_amount=D("1000.00"),
    lines={
        1: PoLineFacts(1, D(10), D("50.00"), D(0), NEED_BY),
        2: PoLineFacts(2, D(10), D("50.00"), D(0), NEED_BY),
    },
)
SUPPLIER = SupplierFacts(vendor_number="V-100", active=True)


def line(po_line: int | None = 1, status: str = "accept", **changes) -> AckLineFacts:
    return AckLineFacts(po_line=po_line, status=status, label=str(po_line), **changes)


def ack(*lines: AckLineFacts, status: str = "accepted", **changes) -> AckFacts:
    facts = AckFacts("ACK-1", "PO-1", status, "USD", lines or (line(1), line(2)))
    return replace(facts, **changes)


def findings(facts: AckFacts, *, po=PO, supplier=SUPPLIER):
    return ack_rules.check(AckCase(facts, po, supplier))


def codes(facts: AckFacts, **kw) -> list[tuple[HoldCode, Severity]]:
    return [(f.code, f.severity) for f in findings(facts, **kw)]


HOLD, REJECT = Severity.HOLD, Severity.REJECT


def test_accepted_lines_confirm():
    assert codes(ack()) == []
    assert "line(s) 1, 2 confirmed" in ack_rules.summary(AckCase(ack(), PO, SUPPLIER))


def test_a_po_that_is_missing_closed_or_another_vendors_sends_it_back():
    assert codes(ack(), po=None) == [(HoldCode.PO_NOT_FOUND, REJECT)]
    assert codes(ack(), po=replace(PO, vendor_number="V-999")) == [
        (HoldCode.SUPPLIER_MISMATCH, REJECT)
    ]
    assert codes(ack(), po=replace(PO, is_open=False)) == [(HoldCode.PO_CLOSED, REJECT)]


def test_an_inactive_supplier_is_refused_and_a_suspended_one_waits():
    assert codes(ack(), supplier=replace(SUPPLIER, active=False)) == [
        (HoldCode.SUPPLIER_INACTIVE, REJECT)
    ]
    suspended = replace(SUPPLIER, active=False, suspended=True)
    assert codes(ack(), supplier=suspended) == [(HoldCode.SUPPLIER_INACTIVE, HOLD)]


def test_a_changed_price_is_held_with_the_amount_at_risk():
    (finding,) = findings(ack(line(1, "change", unit_price=D("52.50"))))
    assert (finding.code, finding.severity) == (HoldCode.PRICE, HOLD)
    assert (finding.expected, finding.actual, finding.line) == ("50.00", "52.50", "1")
    assert finding.amount_at_risk == D("25.00")  # 2.50 more on 10 units
    assert codes(ack(line(1, "accept", unit_price=D("50.00")))) == []  # the same price


def test_a_changed_quantity_is_held_either_way():
    assert codes(ack(line(1, "change", quantity=D(8)))) == [(HoldCode.QTY_ORDERED, HOLD)]
    (more,) = findings(ack(line(1, "change", quantity=D(12))))
    assert more.amount_at_risk == D("100.00")
    assert codes(ack(line(1, "change", quantity=D(10)))) == []


def test_a_changed_delivery_date_is_held_the_same_date_is_not():
    later = NEED_BY + dt.timedelta(days=1)
    assert codes(ack(line(1, "change", delivery_date=later))) == [(HoldCode.DATE, HOLD)]
    assert codes(ack(line(1, "accept", delivery_date=NEED_BY))) == []


def test_a_rejected_line_is_recorded_not_held():
    facts = ack(line(1), line(2, "reject", reason="discontinued", quantity=D(3)))
    assert codes(facts) == []
    case = AckCase(facts, PO, SUPPLIER)
    assert [r.label for r in ack_rules.rejected_lines(case)] == ["2"]
    assert "rejected by the supplier (2: discontinued)" in ack_rules.summary(case)


def test_a_whole_rejection_without_lines_rejects_every_po_line():
    case = AckCase(ack(status="rejected", lines=(), reason="no stock"), PO, SUPPLIER)
    assert ack_rules.check(case) == []
    assert [r.label for r in ack_rules.rejected_lines(case)] == ["1", "2"]


def test_a_line_the_po_lacks_is_held_and_another_currency_too():
    assert codes(ack(line(1), line(9))) == [(HoldCode.LINE_UNMATCHED, HOLD)]
    assert codes(ack(line(None))) == [(HoldCode.LINE_UNMATCHED, HOLD)]
    assert codes(ack(currency="EUR")) == [(HoldCode.CURRENCY, HOLD)]


# -- BANK_DETAILS against the ERP's vendor record ---------------------------------------------

VERIFIED = "DE89370400440532013000"


def bank_codes(supplier: SupplierFacts) -> list[HoldCode]:
    facts = InvoiceFacts(
        number="INV-1",
        issue_date=dt.date(2026, 12, 3),
        currency="USD",
        is_credit=False,
        po_number=None,
        lines=(LineFacts("1", D(1), D(10), D(10), None),),
        line_total=D(10),
        payable=D(10),
        tax_total=D(0),
        cost_centre="CC-7",
    )
    context = Context(Tolerance(), dt.date(2026, 12, 3), frozenset({"CC-7"}))
    return [f.code for f in check(Case(facts, None, supplier, context))]


def test_bank_details_the_erp_does_not_hold_yet_are_held():
    verified = replace(SUPPLIER, verified_account=VERIFIED)
    assert bank_codes(replace(verified, erp_account=VERIFIED)) == []
    assert bank_codes(replace(verified, erp_account="GB33BUKB20201555555555")) == [
        HoldCode.BANK_DETAILS
    ]
    assert bank_codes(replace(verified, erp_account="")) == [HoldCode.BANK_DETAILS]
    assert bank_codes(replace(verified, erp_account=None)) == []  # the ERP was not asked
