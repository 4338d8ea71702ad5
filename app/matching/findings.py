"""What a rule can find: the hold codes finance knows (Oracle Payables holds, Ariba and Coupa
exceptions), how serious each is, and one finding with what was expected and what arrived."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class HoldCode(enum.StrEnum):
    PO_NOT_FOUND = "PO_NOT_FOUND"
    PO_CLOSED = "PO_CLOSED"
    SUPPLIER_MISMATCH = "SUPPLIER_MISMATCH"
    SUPPLIER_INACTIVE = "SUPPLIER_INACTIVE"
    PRICE = "PRICE"
    QTY_ORDERED = "QTY_ORDERED"
    QTY_RECEIVED = "QTY_RECEIVED"
    AMOUNT_ORDERED = "AMOUNT_ORDERED"
    CURRENCY = "CURRENCY"
    TAX_VARIANCE = "TAX_VARIANCE"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    DUPLICATE = "DUPLICATE"
    LINE_UNMATCHED = "LINE_UNMATCHED"
    BANK_DETAILS = "BANK_DETAILS"
    COST_CENTER = "COST_CENTER"
    DATE = "DATE"
    ERP_REJECTED = "ERP_REJECTED"
    DISPUTE = "DISPUTE"  # set by finance on one line (app.holds.services.dispute_line)


# Codes no rule raises: a person sets them, so a re-check never releases them.
SET_BY_PEOPLE = frozenset({HoldCode.DISPUTE})
# Codes that keep back one line's amount, not the invoice: with only these open the invoice
# goes on and is posted without those lines (app.posting.payload), the amounts still held.
LINE_ONLY = frozenset({HoldCode.DISPUTE})


class Severity(enum.StrEnum):
    """HOLD stops the invoice until a person or a passing re-check releases it; REJECT sends it
    back to the supplier at once (nothing a finance clerk could fix)."""

    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class Finding:
    """One failed rule. `finance` is written for AP staff (numbers, tolerances, PO lines);
    `supplier` for the sender, plainer and without internal detail."""

    code: HoldCode
    severity: Severity
    finance: str
    supplier: str
    expected: str | None = None
    actual: str | None = None
    amount_at_risk: Decimal = Decimal(0)
    line: str | None = None
