"""The dead-letter replay form (CSRF-protected like every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class ReplayForm(FlaskForm):
    reason = TextAreaField(
        "Why replay them",
        validators=[DataRequired("Say why these invoices are replayed."), Length(max=2000)],
    )
