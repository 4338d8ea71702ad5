"""Turn a parser's raw mapping into a canonical model, or into every error it contains."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.canonical.acknowledgment import Acknowledgment
from app.canonical.checks import ACKNOWLEDGMENT_CHECKS, INVOICE_CHECKS
from app.canonical.field_errors import FieldError, FieldErrors, format_path
from app.canonical.invoice import Invoice

Kind = Literal["invoice", "acknowledgment"]
Check = Callable[[Mapping[str, Any]], Iterator[FieldError]]

MODELS: dict[str, tuple[type[BaseModel], tuple[Check, ...]]] = {
    "invoice": (Invoice, INVOICE_CHECKS),
    "acknowledgment": (Acknowledgment, ACKNOWLEDGMENT_CHECKS),
}

# pydantic's error types renamed into the vocabulary the API documents for senders.
_CODES = {
    "missing": "required",
    "string_too_short": "required",
    "decimal_parsing": "unreadable_number",
    "decimal_type": "unreadable_number",
    "decimal_max_digits": "number_too_large",
    "decimal_max_places": "too_many_decimals",
    "decimal_whole_digits": "number_too_large",
    "finite_number": "unreadable_number",
    "date_parsing": "invalid_date",
    "date_from_datetime_parsing": "invalid_date",
    "date_type": "invalid_date",
    "literal_error": "invalid_value",
    "extra_forbidden": "unknown_field",
    "too_short": "required",
}
_AMOUNT_FIELDS = {"amount", "payable", "line_total", "tax_total", "unit_price", "tax_amount"}


def _code(error: ErrorDetails) -> str:
    code = _CODES.get(error["type"], error["type"])
    last = error["loc"][-1] if error["loc"] else ""
    if code == "unreadable_number" and (str(last) in _AMOUNT_FIELDS or "total" in str(last)):
        return "unreadable_amount"
    return code


def _from_validation(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(format_path(detail["loc"]), detail["msg"], _code(detail))
        for detail in error.errors(include_url=False)
    ]


def _run_checks(checks: Iterable[Check], raw: Mapping[str, Any]) -> list[FieldError]:
    return [problem for check in checks for problem in check(raw)]


def build(kind: Kind, raw: Mapping[str, Any]) -> Invoice | Acknowledgment:
    """Validate `raw` as a `kind` document; raise FieldErrors listing every problem found."""
    model, checks = MODELS[kind]
    problems = _run_checks(checks, raw)
    try:
        document = model.model_validate(raw)
    except ValidationError as error:
        raise FieldErrors(_from_validation(error) + problems) from None
    if problems:
        raise FieldErrors(problems)
    return document  # type: ignore[return-value]
