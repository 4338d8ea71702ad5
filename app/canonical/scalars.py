"""Annotated scalar types shared by the canonical models: money, quantities, codes, text."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.canonical.currencies import ACTIVE_CODES, is_known_currency

# Bounded so a hostile "1e999999" cannot make later arithmetic expensive; 18 integer digits
# and 6 decimals cover any real invoice, including unit prices quoted to fractions of a cent.
Money = Annotated[Decimal, Field(max_digits=24, decimal_places=6, allow_inf_nan=False)]
Quantity = Annotated[Decimal, Field(max_digits=24, decimal_places=6, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=-100, le=100, max_digits=12, decimal_places=6)]


def _no_nul(value: str) -> str:
    """PostgreSQL's text and jsonb cannot hold U+0000: a document carrying one is rejected
    naming the field, here, for every format, rather than failing when it is stored."""
    if "\x00" in value:
        raise PydanticCustomError(
            "nul_character", "contains a NUL character (U+0000), which cannot be stored"
        )
    return value


NoNul = AfterValidator(_no_nul)
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), NoNul
]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]


def _known_currency(code: str) -> str:
    if not is_known_currency(code):
        raise PydanticCustomError(
            "unknown_currency", "{code!r} is not an ISO 4217 currency code", {"code": code}
        )
    return code


CurrencyCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True),
    AfterValidator(_known_currency),
    Field(
        description="ISO 4217 alphabetic code",
        examples=["EUR", "USD"],
        json_schema_extra={"enum": sorted(ACTIVE_CODES)},
    ),
]


def to_decimal(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None when it is absent or unreadable: the one reading
    of a number that parsers and checks share (whoever needs to, reports the unreadable)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
