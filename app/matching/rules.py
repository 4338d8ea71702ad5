"""The validation rules, one small function each: a Case in, the findings out (none when the
rule passes). `check` runs them all. 2-way matching compares the invoice with the PO's price
and quantity, 3-way with what was received; quantities and amounts are cumulative over every
earlier invoice and credit note on the same PO line, so the invoice that crosses a limit is the
one held, not the ones before it. Credit notes reduce what was billed and are not price- or
quantity-checked themselves."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from app.matching.facts import ZERO, Case, LineFacts, PoLineFacts
from app.matching.findings import Finding, HoldCode, Severity
from app.matching.tolerances import differs, exceeds, over_by

Rule = Callable[[Case], list[Finding]]
CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _hold(code: HoldCode, finance: str, supplier: str, **details) -> Finding:
    return Finding(code, Severity.HOLD, finance, supplier, **details)


# -- the supplier and the purchase order ------------------------------------------------------


def supplier_active(case: Case) -> list[Finding]:
    if case.supplier.active:
        return []
    if case.supplier.suspended:
        return [
            _hold(
                HoldCode.SUPPLIER_INACTIVE,
                "The supplier is suspended: the invoice waits until it is reactivated.",
                "Your organization is suspended; this invoice waits until it is reactivated.",
                amount_at_risk=case.invoice.payable,
            )
        ]
    return [
        Finding(
            HoldCode.SUPPLIER_INACTIVE,
            Severity.REJECT,
            "The supplier is not active in the portal (suspended or not yet approved).",
            "Your organization is not active, so invoices cannot be accepted right now.",
            amount_at_risk=case.invoice.payable,
        )
    ]


def supplier_known(case: Case) -> list[Finding]:
    """A supplier the ERP knows no vendor number for cannot be paid: its invoice goes back at
    once, in words, as for a supplier that is not active (nothing finance could release)."""
    if case.supplier.vendor_number or not case.supplier.active:
        return []  # not active: `supplier_active` says so
    return [
        Finding(
            HoldCode.SUPPLIER_INACTIVE,
            Severity.REJECT,
            "The supplier has no vendor number: it is not set up as a vendor in the ERP, so its "
            "invoices cannot be booked.",
            "Your organization is not yet set up as a supplier in the hospital's accounting "
            "system, so invoices cannot be accepted yet. Ask your contact in procurement to "
            "finish setting you up, then send the invoice again.",
            expected="a vendor number",
            amount_at_risk=case.invoice.payable,
        )
    ]


def po_exists(case: Case) -> list[Finding]:
    number = case.invoice.po_number
    if number is None or case.po is not None:
        return []
    return [
        _hold(
            HoldCode.PO_NOT_FOUND,
            f"Purchase order {number} does not exist in the ERP.",
            f"We cannot find purchase order {number}. Check the PO number on your invoice.",
            expected="an existing PO",
            actual=number,
            amount_at_risk=case.invoice.payable,
        )
    ]


def po_open(case: Case) -> list[Finding]:
    if case.po is None or case.po.is_open:
        return []
    return [
        _hold(
            HoldCode.PO_CLOSED,
            f"Purchase order {case.po.number} is closed.",
            f"Purchase order {case.po.number} is closed and cannot be invoiced.",
            amount_at_risk=case.invoice.payable,
        )
    ]


def po_supplier(case: Case) -> list[Finding]:
    po, vendor = case.po, case.supplier.vendor_number
    if po is None or not vendor or po.vendor_number == vendor:
        return []  # no vendor number at all: `supplier_known` sends it back
    return [
        _hold(
            HoldCode.SUPPLIER_MISMATCH,
            f"Purchase order {po.number} belongs to vendor {po.vendor_number}, "
            f"not to the sender ({vendor or 'no vendor number'}).",
            f"Purchase order {po.number} was not issued to your organization.",
            expected=po.vendor_number,
            actual=vendor,
            amount_at_risk=case.invoice.payable,
        )
    ]


def currency(case: Case) -> list[Finding]:
    po = case.po
    if po is None or po.currency == case.invoice.currency:
        return []
    return [
        _hold(
            HoldCode.CURRENCY,
            f"Invoiced in {case.invoice.currency}; purchase order {po.number} is in {po.currency}.",
            f"Please invoice in {po.currency}, the currency of purchase order {po.number}.",
            expected=po.currency,
            actual=case.invoice.currency,
            amount_at_risk=case.invoice.payable,
        )
    ]


# -- line by line: 2-way and 3-way ------------------------------------------------------------


def _po_lines(case: Case) -> list[tuple[LineFacts, PoLineFacts]]:
    """Invoice lines paired with the PO line they name (only for a debit on a known PO)."""
    if case.po is None or case.invoice.is_credit:
        return []
    lines = case.po.lines
    return [
        (line, lines[line.po_line])
        for line in case.invoice.lines
        if line.po_line is not None and line.po_line in lines
    ]


def lines_on_po(case: Case) -> list[Finding]:
    if case.po is None:
        return []
    po = case.po
    return [
        _hold(
            HoldCode.LINE_UNMATCHED,
            f"Line {line.line_id} names no line of purchase order {po.number}"
            + (f" (it says line {line.po_line})." if line.po_line is not None else "."),
            f"Line {line.line_id} does not match a line of purchase order {po.number}; "
            "say which PO line it bills.",
            expected="a PO line number",
            actual=str(line.po_line) if line.po_line is not None else None,
            amount_at_risk=line.amount,
            line=line.line_id,
        )
        for line in case.invoice.lines
        if line.po_line not in po.lines
    ]


def price(case: Case) -> list[Finding]:
    tol = case.context.tolerance
    return [
        _hold(
            HoldCode.PRICE,
            f"Line {line.line_id}: unit price {line.unit_price} is above the PO price "
            f"{po_line.unit_price} (PO line {po_line.line_number}) beyond tolerance.",
            f"Line {line.line_id}: the price is higher than the purchase order's "
            f"({po_line.unit_price}).",
            expected=str(po_line.unit_price),
            actual=str(line.unit_price),
            amount_at_risk=over_by(po_line.unit_price, line.unit_price) * line.quantity,
            line=line.line_id,
        )
        for line, po_line in _po_lines(case)
        if line.unit_price is not None
        and exceeds(po_line.unit_price, line.unit_price, tol.price_percent, tol.price_amount)
    ]


def _cumulative(case: Case) -> dict[int, Decimal]:
    """Quantity billed per PO line once this invoice is counted, earlier documents included."""
    billed: dict[int, Decimal] = {}
    for line, po_line in _po_lines(case):
        number = po_line.line_number
        billed[number] = billed.get(number, case.history.quantity(number)) + line.quantity
    return billed


def _quantity_rule(
    case: Case, code: HoldCode, limit_of: Callable[[PoLineFacts], Decimal], percent
) -> list[Finding]:
    billed = _cumulative(case)
    findings, seen = [], set()
    for line, po_line in _po_lines(case):
        number = po_line.line_number
        limit = limit_of(po_line)
        if number in seen or not exceeds(limit, billed[number], percent, None):
            continue
        seen.add(number)
        excess = min(over_by(limit, billed[number]), _this_invoice(case, number))
        findings.append(_quantity_finding(case, code, line, po_line, limit, billed[number], excess))
    return findings


def _this_invoice(case: Case, po_line: int) -> Decimal:
    return sum((line.quantity for line in case.invoice.lines if line.po_line == po_line), ZERO)


def _quantity_finding(  # noqa: PLR0917 - one finding's figures, named at the one call
    case: Case,
    code: HoldCode,
    line: LineFacts,
    po_line: PoLineFacts,
    limit: Decimal,
    billed: Decimal,
    excess: Decimal,
) -> Finding:
    what = "ordered" if code is HoldCode.QTY_ORDERED else "received"
    price_each = line.unit_price if line.unit_price is not None else po_line.unit_price
    return _hold(
        code,
        f"PO line {po_line.line_number}: {billed} billed in all (this invoice and earlier ones) "
        f"against {limit} {what}, beyond tolerance.",
        f"Line {line.line_id} bills more than was {what} on purchase order line "
        f"{po_line.line_number}.",
        expected=str(limit),
        actual=str(billed),
        amount_at_risk=excess * price_each,
        line=line.line_id,
    )


def quantity_ordered(case: Case) -> list[Finding]:
    percent = case.context.tolerance.quantity_percent
    return _quantity_rule(case, HoldCode.QTY_ORDERED, lambda p: p.quantity, percent)


def quantity_received(case: Case) -> list[Finding]:
    percent = case.context.tolerance.received_percent
    return _quantity_rule(case, HoldCode.QTY_RECEIVED, lambda p: p.quantity_received, percent)


def amount_ordered(case: Case) -> list[Finding]:
    po, tol = case.po, case.context.tolerance
    if po is None or case.invoice.is_credit:
        return []
    billed = case.history.amount + case.invoice.line_total
    if not exceeds(po.total_amount, billed, tol.amount_percent, tol.amount_amount):
        return []
    return [
        _hold(
            HoldCode.AMOUNT_ORDERED,
            f"{_money(billed)} billed in all against purchase order {po.number} of "
            f"{_money(po.total_amount)}, beyond tolerance.",
            f"The invoices for purchase order {po.number} add up to more than its total.",
            expected=_money(po.total_amount),
            actual=_money(billed),
            amount_at_risk=min(over_by(po.total_amount, billed), case.invoice.line_total),
        )
    ]


# -- the document's own arithmetic, dates, cost centre and bank details ------------------------


def total(case: Case) -> list[Finding]:
    inv = case.invoice
    tax = inv.tax_total or ZERO
    adds_up = inv.line_total - inv.allowance_total + inv.charge_total + tax - inv.prepaid
    if not differs(adds_up, inv.payable, case.context.tolerance.total_amount):
        return []
    return [
        _hold(
            HoldCode.TOTAL_MISMATCH,
            f"Lines {_money(inv.line_total)} - allowances {_money(inv.allowance_total)} + "
            f"charges {_money(inv.charge_total)} + tax {_money(tax)} - prepaid "
            f"{_money(inv.prepaid)} = {_money(adds_up)}, but the invoice asks {_money(inv.payable)}.",
            f"The invoice total ({_money(inv.payable)}) does not add up from its lines, "
            f"charges and tax ({_money(adds_up)}).",
            expected=_money(adds_up),
            actual=_money(inv.payable),
            amount_at_risk=abs(inv.payable - adds_up),
        )
    ]


def tax(case: Case) -> list[Finding]:
    inv = case.invoice
    if inv.tax_total is None or inv.tax_breakdown is None:
        return []
    if not differs(inv.tax_breakdown, inv.tax_total, case.context.tolerance.tax_amount):
        return []
    return [
        _hold(
            HoldCode.TAX_VARIANCE,
            f"Tax total {_money(inv.tax_total)} differs from the tax breakdown "
            f"{_money(inv.tax_breakdown)}.",
            "The tax total does not match the tax stated per rate or per line.",
            expected=_money(inv.tax_breakdown),
            actual=_money(inv.tax_total),
            amount_at_risk=abs(inv.tax_total - inv.tax_breakdown),
        )
    ]


def invoice_date(case: Case) -> list[Finding]:
    ctx, issued = case.context, case.invoice.issue_date
    days = (issued - ctx.today).days
    if -ctx.max_age_days <= days <= ctx.max_future_days:
        return []
    when = "in the future" if days > 0 else f"more than {ctx.max_age_days} days old"
    return [
        _hold(
            HoldCode.DATE,
            f"Invoice date {issued.isoformat()} is {when}.",
            f"The invoice date {issued.isoformat()} is {when}; check it.",
            actual=issued.isoformat(),
            amount_at_risk=case.invoice.payable,
        )
    ]


def cost_centre(case: Case) -> list[Finding]:
    inv = case.invoice
    if inv.po_number is not None or inv.cost_centre in case.context.valid_cost_centres:
        return []
    return [
        _hold(
            HoldCode.COST_CENTER,
            "An invoice without a purchase order needs a valid cost centre"
            + (f"; {inv.cost_centre} is not one." if inv.cost_centre else "; none was given."),
            "Give the purchase order number, or the cost centre your contact gave you.",
            actual=inv.cost_centre,
            amount_at_risk=inv.payable,
        )
    ]


def bank_details(case: Case) -> list[Finding]:
    inv, supplier, ctx = case.invoice, case.supplier, case.context
    findings = []
    if inv.remit_account and inv.remit_account != supplier.verified_account:
        findings.append(
            _hold(
                HoldCode.BANK_DETAILS,
                "The invoice asks for payment to an account that is not the verified one "
                "on record.",
                "The bank account on the invoice is not the one we have on record; payment "
                "goes only to verified details (change them in the portal).",
                amount_at_risk=inv.payable,
            )
        )
    verified, erp = supplier.verified_account, supplier.erp_account
    if verified and erp is not None and erp != verified:
        findings.append(
            _hold(
                HoldCode.BANK_DETAILS,
                "The ERP's vendor record pays to another account than the verified one: the "
                "approved bank change has not reached the ERP yet.",
                "Your new bank details are not yet in the hospital's payment system; we pay "
                "once they are.",
                expected=f"…{verified[-4:]}",
                actual=f"…{erp[-4:]}" if erp else "no account",
                amount_at_risk=inv.payable,
            )
        )
    changed = supplier.bank_changed_at
    if changed is not None and (ctx.today - changed.date()).days < ctx.bank_change_days:
        findings.append(
            _hold(
                HoldCode.BANK_DETAILS,
                f"The supplier's bank details changed on {changed.date().isoformat()}, "
                f"within {ctx.bank_change_days} days: confirm before paying.",
                "Your bank details changed recently; we confirm them before the first payment.",
                amount_at_risk=inv.payable,
            )
        )
    return findings


RULES: tuple[Rule, ...] = (
    supplier_active,
    supplier_known,
    po_exists,
    po_open,
    po_supplier,
    currency,
    lines_on_po,
    price,
    quantity_ordered,
    quantity_received,
    amount_ordered,
    total,
    tax,
    invoice_date,
    cost_centre,
    bank_details,
)


def check(case: Case) -> list[Finding]:
    """Every finding of every rule, in rule order (duplicates are checked by `duplicates`)."""
    return [finding for rule in RULES for finding in rule(case)]
