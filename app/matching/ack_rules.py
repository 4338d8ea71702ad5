"""The rules an acknowledgment is matched by, one small function each: an AckCase in, the
findings out. The PO must exist, be open and belong to the sender, or the acknowledgment goes
back to the supplier (nothing for the buyer to decide). Then line by line: an accepted line
confirms the PO line; a change of price, quantity or delivery date is a hold for the buyer to
accept (or to reject to the supplier); a rejected line is recorded and goes to the ERP as such.

Holds reuse the codes finance and buyers already know from invoices, read for an
acknowledgment: PRICE (the supplier quotes another unit price than the PO's), QTY_ORDERED (it
confirms another quantity than ordered), DATE (it promises another delivery date than the
PO line's need-by date), LINE_UNMATCHED (it answers a line the PO does not have), CURRENCY.
A change is any difference: tolerances are for invoices, a changed order is the buyer's call.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from app.matching.facts import AckCase, AckLineFacts, PoLineFacts
from app.matching.findings import Finding, HoldCode, Severity

AckRule = Callable[[AckCase], list[Finding]]
CENT = Decimal("0.01")


def _hold(code: HoldCode, finance: str, supplier: str, **details) -> Finding:
    return Finding(code, Severity.HOLD, finance, supplier, **details)


def _reject(code: HoldCode, finance: str, supplier: str, **details) -> Finding:
    return Finding(code, Severity.REJECT, finance, supplier, **details)


def _order_value(case: AckCase) -> Decimal:
    po = case.po
    if po is None:
        return Decimal(0)
    return sum((line.quantity * line.unit_price for line in po.lines.values()), Decimal(0))


# -- the supplier and the purchase order ------------------------------------------------------


def supplier_active(case: AckCase) -> list[Finding]:
    if case.supplier.active:
        return []
    if case.supplier.suspended:
        return [
            _hold(
                HoldCode.SUPPLIER_INACTIVE,
                "The supplier is suspended: the acknowledgment waits until it is reactivated.",
                "Your organization is suspended; this acknowledgment waits until it is "
                "reactivated.",
            )
        ]
    return [
        _reject(
            HoldCode.SUPPLIER_INACTIVE,
            "The supplier is not active in the portal.",
            "Your organization is not active, so acknowledgments cannot be accepted right now.",
        )
    ]


def po_exists(case: AckCase) -> list[Finding]:
    if case.po is not None:
        return []
    number = case.ack.po_number
    return [
        _reject(
            HoldCode.PO_NOT_FOUND,
            f"Purchase order {number} does not exist in the ERP.",
            f"We cannot find purchase order {number}. Check the PO number and send it again.",
            expected="an existing PO",
            actual=number,
        )
    ]


def po_supplier(case: AckCase) -> list[Finding]:
    po, vendor = case.po, case.supplier.vendor_number
    if po is None or po.vendor_number == vendor:
        return []
    return [
        _reject(
            HoldCode.SUPPLIER_MISMATCH,
            f"Purchase order {po.number} belongs to vendor {po.vendor_number}, "
            f"not to the sender ({vendor or 'no vendor number'}).",
            f"Purchase order {po.number} was not issued to your organization.",
            expected=po.vendor_number,
            actual=vendor,
        )
    ]


def po_open(case: AckCase) -> list[Finding]:
    if case.po is None or case.po.is_open or _mismatched(case):
        return []
    return [
        _reject(
            HoldCode.PO_CLOSED,
            f"Purchase order {case.po.number} is closed.",
            f"Purchase order {case.po.number} is closed and cannot be acknowledged.",
        )
    ]


def _mismatched(case: AckCase) -> bool:
    return case.po is not None and case.po.vendor_number != case.supplier.vendor_number


def currency(case: AckCase) -> list[Finding]:
    po, stated = case.po, case.ack.currency
    if po is None or stated is None or stated == po.currency or _mismatched(case):
        return []
    return [
        _hold(
            HoldCode.CURRENCY,
            f"Acknowledged in {stated}; purchase order {po.number} is in {po.currency}.",
            f"Purchase order {po.number} is in {po.currency}; the buyer reviews your change.",
            expected=po.currency,
            actual=stated,
            amount_at_risk=_order_value(case),
        )
    ]


# -- line by line -----------------------------------------------------------------------------


def _answered(case: AckCase) -> list[tuple[AckLineFacts, PoLineFacts]]:
    """The lines the supplier did not reject, with their PO line (unknown lines left out)."""
    if case.po is None or _mismatched(case):
        return []
    pairs = []
    for line in case.ack.lines:
        po_line = case.po.lines.get(line.po_line) if line.po_line is not None else None
        if po_line is not None and line.status != "reject":
            pairs.append((line, po_line))
    return pairs


def lines_on_po(case: AckCase) -> list[Finding]:
    if case.po is None or _mismatched(case):
        return []
    unknown = [
        line for line in case.ack.lines if line.po_line is None or line.po_line not in case.po.lines
    ]
    return [
        _hold(
            HoldCode.LINE_UNMATCHED,
            f"The acknowledgment answers line {line.label}, which purchase order "
            f"{case.po.number} does not have.",
            f"Purchase order {case.po.number} has no line {line.label}; the buyer reviews it.",
            actual=line.label,
            line=line.label,
        )
        for line in unknown
    ]


def price(case: AckCase) -> list[Finding]:
    findings = []
    for line, po_line in _answered(case):
        if line.unit_price is None or line.unit_price == po_line.unit_price:
            continue
        quantity = line.quantity if line.quantity is not None else po_line.quantity
        findings.append(
            _hold(
                HoldCode.PRICE,
                f"Line {po_line.line_number}: the supplier quotes {line.unit_price} a unit, "
                f"the PO says {po_line.unit_price}.",
                f"You changed the price of line {po_line.line_number}; the buyer must accept it.",
                expected=str(po_line.unit_price),
                actual=str(line.unit_price),
                amount_at_risk=(abs(line.unit_price - po_line.unit_price) * quantity).quantize(
                    CENT
                ),
                line=str(po_line.line_number),
            )
        )
    return findings


def quantity(case: AckCase) -> list[Finding]:
    findings = []
    for line, po_line in _answered(case):
        if line.quantity is None or line.quantity == po_line.quantity:
            continue
        findings.append(
            _hold(
                HoldCode.QTY_ORDERED,
                f"Line {po_line.line_number}: the supplier confirms {line.quantity}, "
                f"the PO orders {po_line.quantity}.",
                f"You changed the quantity of line {po_line.line_number}; the buyer must "
                "accept it.",
                expected=str(po_line.quantity),
                actual=str(line.quantity),
                amount_at_risk=(
                    abs(line.quantity - po_line.quantity) * po_line.unit_price
                ).quantize(CENT),
                line=str(po_line.line_number),
            )
        )
    return findings


def delivery_date(case: AckCase) -> list[Finding]:
    findings = []
    for line, po_line in _answered(case):
        wanted = po_line.need_by_date
        if line.delivery_date is None or wanted is None or line.delivery_date == wanted:
            continue
        findings.append(
            _hold(
                HoldCode.DATE,
                f"Line {po_line.line_number}: the supplier promises delivery on "
                f"{line.delivery_date.isoformat()}, the PO needs it by {wanted.isoformat()}.",
                f"You changed the delivery date of line {po_line.line_number}; the buyer must "
                "accept it.",
                expected=wanted.isoformat(),
                actual=line.delivery_date.isoformat(),
                amount_at_risk=(po_line.quantity * po_line.unit_price).quantize(CENT),
                line=str(po_line.line_number),
            )
        )
    return findings


RULES: tuple[AckRule, ...] = (
    supplier_active,
    po_exists,
    po_supplier,
    po_open,
    currency,
    lines_on_po,
    price,
    quantity,
    delivery_date,
)


def check(case: AckCase) -> list[Finding]:
    """Every finding of every rule, in rule order."""
    return [finding for rule in RULES for finding in rule(case)]


def rejected_lines(case: AckCase) -> list[AckLineFacts]:
    """The lines the supplier rejected; a whole acknowledgment rejected without lines rejects
    every line of the PO."""
    if case.ack.status == "rejected" and not case.ack.lines and case.po is not None:
        return [
            AckLineFacts(po_line=n, status="reject", reason=case.ack.reason, label=str(n))
            for n in sorted(case.po.lines)
        ]
    return [line for line in case.ack.lines if line.status == "reject"]


def summary(case: AckCase) -> str:
    """In words, for the timeline: which lines confirm and which the supplier rejected."""
    rejected = rejected_lines(case)
    confirmed = [line.label for line in case.ack.lines if line.status != "reject"]
    parts = []
    if confirmed:
        parts.append(f"line(s) {', '.join(confirmed)} confirmed")
    if rejected:
        reasons = "; ".join(
            f"{line.label}: {line.reason}" if line.reason else line.label for line in rejected
        )
        parts.append(f"line(s) rejected by the supplier ({reasons})")
    if not parts:
        parts.append(f"the whole order {case.ack.status}")
    return "; ".join(parts)
