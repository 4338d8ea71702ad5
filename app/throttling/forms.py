"""Forms of the tier pages (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

MAX_LIMIT = 2_000_000_000  # the columns are 32-bit integers


def _count(label: str) -> IntegerField:
    return IntegerField(label, validators=[DataRequired(), NumberRange(min=1, max=MAX_LIMIT)])


class TierForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=50)])
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    requests_per_minute = _count("Requests per minute (sustained)")
    burst_per_second = _count("Burst: requests per second")
    requests_per_day = _count("Requests per UTC day")
    max_body_bytes = _count("Largest request body (bytes)")
    documents_per_day = _count("Documents per UTC day")
    is_default = BooleanField("Default tier for organizations without an assignment")

    def values(self) -> dict:
        return {
            "name": self.name.data.strip(),
            "description": (self.description.data or "").strip(),
            **{
                field: getattr(self, field).data
                for field in (
                    "requests_per_minute",
                    "burst_per_second",
                    "requests_per_day",
                    "max_body_bytes",
                    "documents_per_day",
                )
            },
        }


class TierChoiceForm(FlaskForm):
    tier = SelectField("Tier", coerce=int, validators=[DataRequired()])


class TierRequestForm(TierChoiceForm):
    reason = TextAreaField(
        "Why your organization needs it", validators=[DataRequired(), Length(max=500)]
    )


class DecisionForm(FlaskForm):
    decision = HiddenField(validators=[AnyOf(["approve", "reject"])])
    note = TextAreaField("Note to the organization", validators=[Optional(), Length(max=500)])


class OverrideForm(TierChoiceForm):
    api_client_id = IntegerField(
        "API client (numeric id)", validators=[DataRequired(), NumberRange(min=1)]
    )


def with_tier_choices(form: TierChoiceForm, tiers) -> TierChoiceForm:
    form.tier.choices = [(t.id, t.name) for t in tiers]
    return form
