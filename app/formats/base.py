"""What every format parser hands back: raw canonical-shaped mappings, one per document,
each with where it sits in the payload. Building the pydantic model is done once, centrally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from stdnum import iban as stdnum_iban

from app.canonical.field_errors import FieldError
from app.canonical.scalars import to_decimal

Kind = Literal["invoice", "acknowledgment"]


@dataclass(frozen=True)
class RawDocument:
    """One document found in a payload, before canonical validation.

    `identity` names it for people ("ST 0002 (810)", "invoice INV-7", "documents[1]");
    `span` is the (start, end) byte range it occupies in the payload, when it has one;
    `problems` are errors only the wire format can see (CSV rows that disagree, say).
    """

    data: dict[str, Any]
    identity: str
    span: tuple[int, int] | None = None
    problems: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class Parser:
    """A registered wire format: its name, its version and the function that splits bytes
    into raw documents (raising EnvelopeError when the payload itself is unreadable)."""

    name: str
    version: str
    parse: Callable[[bytes, Kind], list[RawDocument]]
    kinds: tuple[Kind, ...] = field(default=("invoice", "acknowledgment"))


def prune(value: Any) -> Any:
    """Drop None, empty strings, empty lists and empty mappings, recursively, so a parser can
    build mappings naively and the model sees only what the document actually said."""
    if isinstance(value, dict):
        pruned = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if not _empty(item)}
    if isinstance(value, list):
        return [item for item in (prune(entry) for entry in value) if not _empty(item)]
    if isinstance(value, str):
        return value.strip()
    return value


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def bank_account_id(value: str | None) -> dict[str, str | None]:
    """File an account identifier under `iban` only when it is one; anything else (a local
    account number, a placeholder) stays an account number for the bank-details check."""
    if value and stdnum_iban.is_valid(value):
        return {"iban": value}
    return {"account_number": value}


def unique(items: list[Any]) -> list[Any]:
    """Keep the first of equal items: formats often repeat an id in two places."""
    kept: list[Any] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return kept


def date_part(value: str | None) -> str | None:
    """`2009-05-01T11:45:51-07:00` -> `2009-05-01`: the date as the sender's calendar showed
    it, which is the date printed on the document; converting to UTC could shift the day."""
    if value is None:
        return None
    value = value.strip()
    return value[:10] if len(value) >= 10 and value[4] == "-" and value[7] == "-" else value


def add(*values: Any) -> str | None:
    """Sum of the readable values as a string; None if any present value is unreadable, so a
    derived total never hides a broken input (the broken input itself is reported)."""
    total = Decimal(0)
    for value in values:
        if value is None or value == "":
            continue
        number = to_decimal(value)
        if number is None:
            return None
        total += number
    return str(total)


def negate(value: str | None) -> str | None:
    """`-value` as a string for `add`; an unreadable value stays as it is so `add` refuses it."""
    number = to_decimal(value)
    return str(-number) if number is not None else value


def scheme_id(scheme: str | None, value: str | None) -> dict[str, str | None] | None:
    """A {scheme, value} identifier, or None when there is no value to identify by."""
    return {"scheme": scheme, "value": value} if value and value.strip() else None
