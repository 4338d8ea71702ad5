"""Duplicate invoices, three ways: the same supplier and invoice number once normalized (case,
spaces, punctuation, leading zeros) is a DUPLICATE; a likely duplicate (a number at least 80%
alike, the same amount, dates within 7 days) is held for a person to decide. The same payload
sent twice never gets this far: intake refuses it by its hash (app.intake.repeats) unless the
first copy was rejected. Credit notes are compared only
with credit notes, so a credit is never a duplicate of the invoice it credits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher

from app.matching.findings import Finding, HoldCode, Severity

SIMILARITY = 0.8
WITHIN_DAYS = 7
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


@dataclass(frozen=True)
class Earlier:
    """An invoice the supplier sent before."""

    document_id: int
    number: str
    amount: Decimal
    issue_date: dt.date
    is_credit: bool


def normalize_number(number: str) -> str:
    """`inv-00042 ` → `INV42`, `A7-0042` → `A742`: how people write one invoice number many
    ways. Each group's leading zeros go before the punctuation does, so a group that follows a
    digit (`7-0042`) loses its padding as one that follows a letter does."""
    return _NOT_ALNUM.sub("", _LEADING_ZEROS.sub("", number.upper()))


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, normalize_number(a), normalize_number(b)).ratio()


def duplicates(
    number: str, amount: Decimal, issue_date: dt.date, is_credit: bool, earlier: Sequence[Earlier]
) -> list[Finding]:
    """At most one finding: the exact duplicate if there is one, else the likeliest one."""
    same_kind = [e for e in earlier if e.is_credit == is_credit]
    wanted = normalize_number(number)
    exact = next((e for e in same_kind if normalize_number(e.number) == wanted), None)
    if exact is not None:
        return [_exact(number, exact, amount)]
    likely = [e for e in same_kind if _likely(number, amount, issue_date, e)]
    if likely:
        return [
            _likely_finding(number, max(likely, key=lambda e: similarity(number, e.number)), amount)
        ]
    return []


def _likely(number: str, amount: Decimal, issue_date: dt.date, e: Earlier) -> bool:
    return (
        e.amount == amount
        and abs((e.issue_date - issue_date).days) <= WITHIN_DAYS
        and similarity(number, e.number) >= SIMILARITY
    )


def _exact(number: str, e: Earlier, amount: Decimal) -> Finding:
    return Finding(
        HoldCode.DUPLICATE,
        Severity.HOLD,
        f"Invoice number {number} was already sent as {e.number} (document {e.document_id}).",
        f"You already sent invoice {e.number}; an invoice number can be used once.",
        expected="a new invoice number",
        actual=number,
        amount_at_risk=amount,
    )


def _likely_finding(number: str, e: Earlier, amount: Decimal) -> Finding:
    return Finding(
        HoldCode.DUPLICATE,
        Severity.HOLD,
        f"Likely duplicate of {e.number} (document {e.document_id}): same amount, a similar "
        f"number, dated within {WITHIN_DAYS} days. Decide whether both are real.",
        "This invoice looks like one you sent shortly before; we check before paying it.",
        expected=e.number,
        actual=number,
        amount_at_risk=amount,
    )
