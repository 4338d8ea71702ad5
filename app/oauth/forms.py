"""Forms of the API client pages (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

import json

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.oauth.models import AuthMethod
from app.oauth.scopes import SCOPE_DESCRIPTIONS

AUTH_METHOD_LABELS = {
    AuthMethod.CLIENT_SECRET_BASIC: "Client secret, sent with HTTP Basic (client_secret_basic)",
    AuthMethod.CLIENT_SECRET_POST: "Client secret, sent in the form body (client_secret_post)",
    AuthMethod.PRIVATE_KEY_JWT: "Signed assertion with your own key (private_key_jwt)",
}
OLD_SECRET_DAYS = [
    SelectChoice(days, f"{days} day{'s' if days != '1' else ''}") for days in ("1", "7", "30")
]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewClientForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    auth_method = SelectField(
        "How the program proves who it is",
        choices=[SelectChoice(m.value, label) for m, label in AUTH_METHOD_LABELS.items()],
        default=AuthMethod.CLIENT_SECRET_BASIC.value,
    )
    scopes = MultiCheckboxField("Scopes", validators=[DataRequired("Choose at least one scope.")])
    jwks = TextAreaField(
        "Public keys as a JWKS (private_key_jwt only)",
        validators=[Optional(), Length(max=20_000)],
        render_kw={"rows": 6, "spellcheck": "false"},
    )
    jwks_uri = URLField(
        "…or the HTTPS address of your JWKS (private_key_jwt only)",
        validators=[Optional(), Length(max=500)],
    )

    def set_scope_choices(self, approved: list[str]) -> None:
        self.scopes.choices = [
            SelectChoice(s, f"{s}: {SCOPE_DESCRIPTIONS.get(s, s)}") for s in approved
        ]

    def validate_jwks(self, field) -> None:
        if field.data:
            try:
                field.parsed = json.loads(field.data)
            except ValueError:
                raise ValidationError("This is not valid JSON.") from None

    def jwks_data(self) -> dict | None:
        return getattr(self.jwks, "parsed", None)


class RotateSecretForm(FlaskForm):
    old_secret_days = SelectField(
        "The current secret keeps working for", choices=OLD_SECRET_DAYS, default="7"
    )


class ConfirmForm(FlaskForm):
    """A bare POST with its CSRF token (revoke a client, expire a secret)."""
