"""URL converters shared by every app: an `<int:...>` id only matches what a database id can be.

Every id column is `sa.Integer`: 32-bit signed in PostgreSQL (`integer`), 64-bit in SQLite.
Past that range a query fails (PostgreSQL: "integer out of range"; SQLite cannot even bind a
value past 64 bits), so `/api/v1/documents/2147483648` answered 500 on PostgreSQL and
`/api/v1/documents/9223372036854775808` on SQLite. Registering `IdConverter` as the `int`
converter makes such a path match no route: it answers 404 like any id that names nothing, on
every route at once, before a view or a query runs. (Should a table ever move to BIGINT ids,
MAX_ID moves with it.)
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

MIN_ID = 1
MAX_ID = 2**31 - 1  # PostgreSQL `integer`, the type of every id column


def is_id(value: int) -> bool:
    """Whether `value` can be a database id (1 .. 2**31-1)."""
    return MIN_ID <= value <= MAX_ID


def parse_id(text: str | None) -> int | None:
    """`text` as a database id, or None: ASCII digits only (`"²".isdigit()` is true but int()
    refuses it), short enough that int() never refuses it either, and within `is_id`."""
    text = (text or "").strip()
    if not text or len(text) > len(str(MAX_ID)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if is_id(value) else None


def decimal_up_to(maximum: int) -> str:
    """A regex for the decimal numbers 1..maximum, without leading zeros: for 2**31-1,
    `[1-9]\\d{0,8}|1\\d{9}|20\\d{8}|...|2147483647`."""
    digits = str(maximum)
    shorter = rf"[1-9]\d{{0,{len(digits) - 2}}}" if len(digits) > 1 else ""
    same_length = []
    for index, digit in enumerate(map(int, digits)):
        lowest = 1 if index == 0 else 0
        rest = len(digits) - index - 1
        if digit > lowest:
            lower = f"[{lowest}-{digit - 1}]" if digit - 1 > lowest else str(lowest)
            same_length.append(digits[:index] + lower + (rf"\d{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([p for p in (shorter, *same_length, digits) if p]) + ")"


class IdConverter(IntegerConverter):
    """`<int:name>` bounded to 1..2**31-1 unless the rule gives its own `min`/`max`.

    The bound is in the regex too: werkzeug checks `max` only after a rule's path matched, and
    when several rules share a path (GET, PATCH, DELETE on /webhooks/<int:id>) an id past it
    made the others answer 405 instead of 404."""

    def __init__(
        self,
        map: Map,  # noqa: A002 - werkzeug's parameter name
        fixed_digits: int = 0,
        min: int | None = MIN_ID,  # noqa: A002
        max: int | None = MAX_ID,  # noqa: A002
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
        if not fixed_digits and not signed and min == MIN_ID and max is not None:
            self.regex = decimal_up_to(max)


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered: rules take their converters when added."""
    app.url_map.converters["int"] = IdConverter
