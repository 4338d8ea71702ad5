"""Semantic rules no schema can express, run on the raw mapping so that they report
together with the type errors instead of waiting for them to be fixed first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from app.canonical.field_errors import FieldError
from app.canonical.scalars import to_decimal

# EN 16931 (Peppol BIS Billing 3.0 and its national CIUS) lets an invoice carry negative
# quantities for returns and corrections; documents claiming it keep that right.
NEGATIVE_LINES_ALLOWED_PREFIX = "urn:cen.eu:en16931"


def _lines(raw: Mapping[str, Any]) -> list[Any]:
    lines = raw.get("lines")
    return lines if isinstance(lines, list) else []


def _allows_negative_lines(raw: Mapping[str, Any]) -> bool:
    if raw.get("document_type") == "credit_note":
        return True
    spec = raw.get("specification_id")
    return isinstance(spec, str) and spec.startswith(NEGATIVE_LINES_ALLOWED_PREFIX)


def negative_quantities(raw: Mapping[str, Any]) -> Iterator[FieldError]:
    """A negative quantity on a plain invoice is a credit in disguise: it must come as a
    credit note (or under a profile such as EN 16931 that defines negative lines)."""
    if _allows_negative_lines(raw):
        return
    for index, line in enumerate(_lines(raw)):
        quantity = to_decimal(line.get("quantity")) if isinstance(line, Mapping) else None
        if quantity is not None and quantity < 0:
            yield FieldError(
                f"lines[{index}].quantity",
                f"quantity {quantity} is negative on an invoice; send a credit note instead",
                "negative_quantity",
            )


def line_total_matches(raw: Mapping[str, Any]) -> Iterator[FieldError]:
    """The sum of the line amounts must equal the stated line total, to the cent."""
    totals = raw.get("totals")
    stated = to_decimal(totals.get("line_total")) if isinstance(totals, Mapping) else None
    amounts = [
        to_decimal(line.get("line_extension_amount")) if isinstance(line, Mapping) else None
        for line in _lines(raw)
    ]
    readable = [amount for amount in amounts if amount is not None]
    # An unreadable line amount is reported on its own; summing the rest would only mislead.
    if stated is None or not amounts or len(readable) != len(amounts):
        return
    computed = sum(readable, Decimal(0))
    if computed.quantize(Decimal("0.01")) != stated.quantize(Decimal("0.01")):
        yield FieldError(
            "totals.line_total",
            f"lines add up to {computed} but the line total says {stated}",
            "line_total_mismatch",
        )


def duplicate_ack_lines(raw: Mapping[str, Any]) -> Iterator[FieldError]:
    """Two answers for the same PO line cannot both be applied."""
    seen: set[str] = set()
    for index, line in enumerate(_lines(raw)):
        ref = line.get("po_line") if isinstance(line, Mapping) else None
        if ref is None:
            continue
        if str(ref) in seen:
            yield FieldError(
                f"lines[{index}].po_line", f"PO line {ref} is answered twice", "duplicate_line"
            )
        seen.add(str(ref))


INVOICE_CHECKS = (negative_quantities, line_total_matches)
ACKNOWLEDGMENT_CHECKS = (duplicate_ack_lines,)
