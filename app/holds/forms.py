"""The finance queue's action forms (CSRF-protected like every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.holds.services import REJECT_REASONS


class ReleaseForm(FlaskForm):
    reason = TextAreaField(
        "Why release it",
        validators=[DataRequired("Say why the hold is released."), Length(max=2000)],
    )


class RejectForm(FlaskForm):
    code = SelectField(
        "Reason code",
        choices=[SelectChoice(code, f"{code}: {text}") for code, text in REJECT_REASONS.items()],
    )
    note = TextAreaField(
        "Note for the supplier",
        validators=[DataRequired("Write a note for the supplier."), Length(max=2000)],
    )
