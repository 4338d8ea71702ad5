"""Forms for configuring, reviewing and testing identity providers, and for linking accounts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app import outbound
from app.federation import rules
from app.federation.models import DEFAULT_SCOPES, IdentityProvider
from app.federation.services import ProviderSettings
from app.orgs.roles import Role

if TYPE_CHECKING:
    from app.accounts.models import User


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class ProviderForm(FlaskForm):
    name = StringField(
        "Display name", validators=[DataRequired(), Length(max=100)], filters=[_strip]
    )
    issuer = StringField(
        "Issuer URL", validators=[DataRequired(), Length(max=500)], filters=[_strip]
    )
    client_id = StringField(
        "Client ID", validators=[DataRequired(), Length(max=255)], filters=[_strip]
    )
    client_secret = PasswordField("Client secret", validators=[Optional(), Length(max=500)])
    scopes = StringField(
        "Scopes", default=DEFAULT_SCOPES, validators=[DataRequired(), Length(max=255)]
    )
    domains = TextAreaField("Allowed email domains", validators=[DataRequired()])
    jit_enabled = BooleanField("Create portal accounts on first sign-in (just in time)")
    jit_role = SelectField("Role of accounts created on first sign-in", choices=[])
    groups_claim = StringField(
        "Groups claim", default="groups", validators=[DataRequired(), Length(max=64)]
    )
    role_mapping = TextAreaField("Groups to portal roles", validators=[Optional()])
    sso_required = BooleanField("Require company sign-in (refuse passwords)")

    def __init__(self, roles: Iterable[Role], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_roles = sorted(roles)
        self.jit_role.choices = [("", "None")] + [
            (r.value, r.value.replace("_", " ")) for r in self.allowed_roles
        ]

    def validate_issuer(self, field) -> None:
        _check(rules.check_issuer, field.data, allow_loopback=_loopback_allowed())
        _check_reachable(field.data)

    def validate_domains(self, field) -> None:
        _check(rules.parse_domains, field.data)

    def validate_scopes(self, field) -> None:
        _check(rules.check_scopes, field.data)

    def validate_role_mapping(self, field) -> None:
        _check(rules.parse_role_mapping, field.data or "", self.allowed_roles)

    def fill_from(self, provider: IdentityProvider) -> None:
        """Show a saved provider (never its secret)."""
        for name in ("name", "issuer", "client_id", "scopes", "groups_claim"):
            getattr(self, name).data = getattr(provider, name)
        self.domains.data = "\n".join(provider.domain_names)
        self.role_mapping.data = rules.format_role_mapping(provider.role_mapping)
        self.jit_enabled.data = provider.jit_enabled
        self.jit_role.data = provider.jit_role.value if provider.jit_role else ""
        self.sso_required.data = provider.sso_required

    def settings(self) -> ProviderSettings:
        return ProviderSettings(
            name=self.name.data,
            issuer=rules.check_issuer(self.issuer.data, allow_loopback=_loopback_allowed()),
            client_id=self.client_id.data,
            client_secret=self.client_secret.data or None,
            scopes=rules.check_scopes(self.scopes.data),
            groups_claim=self.groups_claim.data.strip(),
            domains=rules.parse_domains(self.domains.data),
            role_mapping=rules.parse_role_mapping(self.role_mapping.data or "", self.allowed_roles),
            jit_enabled=bool(self.jit_enabled.data),
            jit_role=Role(self.jit_role.data) if self.jit_role.data else None,
            sso_required=bool(self.sso_required.data),
        )


def _loopback_allowed() -> bool:
    """Development and tests run their identity provider on this machine; production never
    (OUTBOUND_ALLOW_PRIVATE, the setting of the outbound guard)."""
    return outbound.policy_from(current_app.config).allow_private


def _check_reachable(issuer: str) -> None:
    """The outbound guard's verdict on the issuer now, so an internal address is refused when
    it is typed (the guard checks again on every call, when the name may resolve elsewhere).
    A name that does not resolve yet is left to the test sign-in to report."""
    try:
        outbound.check_url(issuer.strip(), outbound.policy_from(current_app.config))
    except outbound.UnresolvedHostError:
        return
    except outbound.OutboundRefusedError as exc:
        raise ValidationError(exc.message) from None


def _check(rule, *args, **kwargs) -> None:
    try:
        rule(*args, **kwargs)
    except rules.RuleError as exc:
        raise ValidationError(str(exc)) from None


class RejectForm(FlaskForm):
    note = TextAreaField(
        "What must change", validators=[DataRequired(), Length(max=500)], filters=[_strip]
    )


class BreakGlassForm(FlaskForm):
    """Designate one of the organization's admins as a break-glass account."""

    user_id = SelectField("Admin", coerce=int, choices=[], validate_choice=True)

    def __init__(self, candidates: Iterable[User], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_id.choices = [
            (u.id, f"{u.name} <{u.email}>" if u.name else u.email) for u in candidates
        ]


class LinkForm(FlaskForm):
    """Proof that an existing account is yours: its password (and code, if it has MFA)."""

    password = PasswordField("Portal password", validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        "Authenticator or recovery code",
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code"},
    )
