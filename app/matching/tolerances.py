"""Tolerances as Oracle Payables' tolerance templates: how far an invoice may exceed what was
ordered or received before it is held. In every limit 0 means no variance allowed and None
means unlimited; a percent and an absolute limit on the same figure both apply (either one
exceeded holds). A supplier with an override uses its template instead of the global one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Tolerance:
    price_percent: Decimal | None = Decimal(0)
    price_amount: Decimal | None = None  # per unit, in the invoice currency
    quantity_percent: Decimal | None = Decimal(0)
    received_percent: Decimal | None = Decimal(0)
    amount_percent: Decimal | None = Decimal(0)  # the PO's total amount, cumulatively
    amount_amount: Decimal | None = None
    tax_amount: Decimal | None = Decimal("0.01")  # stated tax against the tax it adds up to
    total_amount: Decimal | None = Decimal("0.01")  # rounding between lines, tax and payable


def over_by(expected: Decimal, actual: Decimal) -> Decimal:
    """How far `actual` exceeds `expected` (0 when it does not)."""
    return max(actual - expected, Decimal(0))


def exceeds(
    expected: Decimal, actual: Decimal, percent: Decimal | None, amount: Decimal | None
) -> bool:
    """True when `actual` is above `expected` by more than a limit allows. Only excess counts:
    billing less than ordered is never a variance here."""
    excess = over_by(expected, actual)
    if excess == 0:
        return False
    beyond_percent = percent is not None and excess > abs(expected) * percent / HUNDRED
    beyond_amount = amount is not None and excess > amount
    return beyond_percent or beyond_amount


def differs(expected: Decimal, actual: Decimal, amount: Decimal | None) -> bool:
    """True when two figures that should agree differ by more than `amount` either way."""
    return amount is not None and abs(actual - expected) > amount


def for_supplier(global_template: Tolerance, override: Tolerance | None) -> Tolerance:
    """The template in force for a supplier: its own when it has one, else the global one."""
    return override if override is not None else global_template
