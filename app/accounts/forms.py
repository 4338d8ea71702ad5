"""Sign-in and two-step verification forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional


class LoginForm(FlaskForm):
    """Email first (home-realm discovery); the password comes on the second step."""

    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(), Length(max=254)],
        filters=[lambda value: value.strip().lower() if value else value],
    )
    password = PasswordField("Password", validators=[Optional(), Length(max=1024)])


class CodeForm(FlaskForm):
    """A code from the authenticator app or, at sign-in, one of the recovery codes."""

    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"},
    )


class LogoutForm(FlaskForm):
    """Sign-out is a POST with a CSRF token, so other sites cannot sign people out."""
