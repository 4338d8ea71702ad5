"""The tolerance template forms (CSRF-protected like every form). An empty limit means
unlimited, 0 means no variance; negative numbers are refused at the field."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.matching.tolerance_templates import LIMITS, MAX_LIMIT, PLACES

# What each limit is, as finance reads it.
LABELS = {
    "price_percent": "Price: % above the PO unit price",
    "price_amount": "Price: amount above the PO unit price (per unit)",
    "quantity_percent": "Quantity ordered: % above what the PO line ordered",
    "received_percent": "Quantity received: % above what was received",
    "amount_percent": "PO amount: % above the PO total (cumulative)",
    "amount_amount": "PO amount: amount above the PO total (cumulative)",
    "tax_amount": "Tax: difference from the tax the lines add up to",
    "total_amount": "Total: difference between lines, tax and payable",
}


def _in_range(form: FlaskForm, field: DecimalField) -> None:
    """From 0 up, with at most 4 decimals. Nothing to say when the field is empty (unlimited)
    or could not be read as a number (the field already says so)."""
    value = field.data
    if not isinstance(value, Decimal):
        return
    if not value.is_finite():
        raise ValidationError("Enter a number, or leave it empty for unlimited.")
    if value < 0:
        raise ValidationError("A limit cannot be negative: 0 allows no variance.")
    if value > MAX_LIMIT:
        raise ValidationError(f"At most {MAX_LIMIT}.")
    if -int(value.as_tuple().exponent) > PLACES:
        raise ValidationError(f"Use at most {PLACES} decimal places.")


def _limit(name: str) -> DecimalField:
    return DecimalField(
        LABELS[name],
        places=None,
        validators=[Optional(), _in_range],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


def plain(value: Decimal | None) -> Decimal | None:
    """A stored limit as a person writes it: 5 rather than 5.0000, 100 rather than 1E+2."""
    return None if value is None else Decimal(format(value.normalize(), "f"))


class LimitsForm(FlaskForm):
    price_percent = _limit("price_percent")
    price_amount = _limit("price_amount")
    quantity_percent = _limit("quantity_percent")
    received_percent = _limit("received_percent")
    amount_percent = _limit("amount_percent")
    amount_amount = _limit("amount_amount")
    tax_amount = _limit("tax_amount")
    total_amount = _limit("total_amount")

    def limit_fields(self) -> list[DecimalField]:
        return [getattr(self, name) for name in LIMITS]

    def values(self) -> dict[str, Decimal | None]:
        return {name: getattr(self, name).data for name in LIMITS}


class OverrideForm(LimitsForm):
    supplier_id = SelectField(
        "Supplier", coerce=int, validators=[DataRequired("Choose a supplier.")]
    )


class RemoveForm(FlaskForm):
    """Only the CSRF token: the supplier is in the URL."""


class AckAcceptForm(FlaskForm):
    """The buyer accepts a supplier's changed acknowledgment."""

    reason = TextAreaField(
        "Why accept the changes",
        validators=[DataRequired("Say why the changes are accepted."), Length(max=2000)],
    )


class AckRefuseForm(FlaskForm):
    """The buyer refuses the changes; the note is what the supplier reads."""

    note = TextAreaField(
        "Note for the supplier",
        validators=[DataRequired("Write a note for the supplier."), Length(max=2000)],
    )
