"""Forms of the webhook pages (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

import datetime as dt

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, StringField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.oauth.forms import MultiCheckboxField
from app.webhooks.events import EVENT_TYPES


class EndpointForm(FlaskForm):
    url = URLField(
        "URL (https)", validators=[DataRequired("Give the endpoint's URL."), Length(max=2000)]
    )
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    event_types = MultiCheckboxField(
        "Events",
        choices=[SelectChoice(name, f"{name}: {text}") for name, text in EVENT_TYPES.items()],
        validators=[DataRequired("Choose at least one event type.")],
    )


class ReplayForm(FlaskForm):
    since = DateTimeLocalField(
        "Failed since (UTC)", format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )

    def since_utc(self) -> dt.datetime:
        return self.since.data.replace(tzinfo=dt.UTC)


class ConfirmForm(FlaskForm):
    """A bare POST with its CSRF token (enable, disable, rotate, ping, redeliver, delete)."""
