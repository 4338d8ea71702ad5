"""Sign-in (email first, then the company's identity provider, or a password and a second
factor), sign-out, and the signed-in landing page."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm

from app.accounts import mfa, services, sessions
from app.accounts.access import navigation_for, require_role
from app.accounts.external import external_sign_in
from app.accounts.forms import CodeForm, LoginForm, LogoutForm
from app.accounts.models import User
from app.accounts.urls import safe_next
from app.audit.services import record
from app.db import db

bp = Blueprint("accounts", __name__)

# Formatted with the configured limits (SESSION_IDLE_MINUTES, SESSION_ABSOLUTE_HOURS).
EXPIRY_MESSAGES = {
    "idle_timeout": "You were signed out after {idle} minutes without activity.",
    "absolute_timeout": "Your session reached its {hours}-hour limit. Please sign in again.",
    "user_disabled": "Your account has been disabled. Contact your administrator.",
    "roles_revoked": "Your company sign-in no longer gives you a role in the portal.",
    "org_suspended": "Your organization was suspended; you were signed out.",
    "mfa_reset": "Your two-step verification was reset; set it up again when you sign in.",
}
# Between a correct password and the second factor: who, which step, where to go next.
PENDING_KEY = "pending_sign_in"
PENDING_TTL = 300  # seconds to enter the code or finish setting up the app
BREAK_GLASS_WITHOUT_MFA = (
    "Your break-glass access works only with two-step verification, and this account has "
    "none set up. It must be set up beforehand; until then sign in through {provider}."
)


@bp.app_context_processor
def inject_navigation():
    return {"navigation": navigation_for(current_user), "logout_form": LogoutForm()}


def _expiry_message(reason: str) -> str:
    message = EXPIRY_MESSAGES.get(reason, "Your session ended. Please sign in again.")
    config = current_app.config
    return message.format(
        idle=config["SESSION_IDLE_MINUTES"], hours=config["SESSION_ABSOLUTE_HOURS"]
    )


def _ip() -> str:
    return request.remote_addr or "unknown"


def _login_page(form: LoginForm, step: str, status: int = 200):
    return render_template("accounts/login.html", form=form, step=step), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.home"))
    if reason := session.pop("expired_reason", None):
        flash(_expiry_message(reason), "info")
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, "password" if form.password.data else "email")
    if not form.password.data:
        return _discover(form)
    return _sign_in_with_password(form)


def _discover(form: LoginForm):
    """Home-realm discovery: the email's domain picks the company's provider, if it has one."""
    provider = external_sign_in().provider_for_email(form.email.data)
    if provider is None:
        return _login_page(form, "password")
    return external_sign_in().begin_sign_in(
        provider, safe_next(request.args.get("next")), form.email.data
    )


def _sign_in_with_password(form: LoginForm):
    result = services.check_password(form.email.data, form.password.data, _ip())
    user = result.user
    if user is None:
        flash(result.error or "Sign-in failed.", "error")
        return _login_page(form, "password", 429 if result.throttled else 401)
    external = external_sign_in()
    if (provider := external.required_provider_for(user)) is None:
        step = mfa.step_at_sign_in(user)
    elif not external.break_glass_allowed(user, provider):
        return _refuse_password(user, provider)
    elif not mfa.is_enrolled(user):
        return _refuse_break_glass_without_mfa(form, user, provider)
    else:
        # Break-glass: the password is let through only with a second factor set up
        # beforehand; never skipped, never set up here.
        step = "verify"
    next_url = safe_next(request.args.get("next"))
    if step:
        session[PENDING_KEY] = {
            "user_id": user.id,
            "step": step,
            "next": next_url,
            "at": time.time(),
        }
        return redirect(url_for("accounts.verify" if step == "verify" else "mfa.setup"))
    services.complete_sign_in(user)
    login_user(user)
    return redirect(next_url or url_for("accounts.home"))


def _refuse_password(user: User, provider):
    record(
        "auth.login_refused",
        actor=user,
        target=user,
        organization_id=provider.organization_id,
        details={"reason": "sso_required", "provider_id": provider.id},
    )
    page = render_template("accounts/sso_required.html", provider=provider, form=FlaskForm())
    return page, 403


def _refuse_break_glass_without_mfa(form: LoginForm, user: User, provider):
    record(
        "auth.login_refused",
        actor=user,
        target=user,
        organization_id=provider.organization_id,
        details={"reason": "break_glass_without_mfa", "provider_id": provider.id},
    )
    flash(BREAK_GLASS_WITHOUT_MFA.format(provider=provider.name), "error")
    return _login_page(form, "password", 403)


def pending_sign_in(step: str) -> tuple[User, dict[str, Any]] | None:
    """The person who gave a correct password and still owes `step` ("verify" or "enrol")."""
    data = session.get(PENDING_KEY)
    if not data or data["step"] != step or time.time() - data["at"] > PENDING_TTL:
        return None
    user = db.session.get(User, data["user_id"])
    return (user, data) if user is not None and user.active else None


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    pending = pending_sign_in("verify")
    if pending is None:
        flash("Please sign in again.", "info")
        return redirect(url_for("accounts.login"))
    user, data = pending
    # Company sign-in may have become required, or break-glass access revoked, since the
    # password step: ask again.
    external = external_sign_in()
    provider = external.required_provider_for(user)
    if provider is not None and not external.break_glass_allowed(user, provider):
        session.pop(PENDING_KEY, None)
        return _refuse_password(user, provider)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        check = mfa.check_code(user, form.code.data, _ip())
        if check.ok:
            services.complete_sign_in(user, second_factor=check.method)
            if provider is not None:
                external.break_glass_used(user, provider, check.method)
        if check.ok:
            login_user(user)
            _warn_if_recovery_code(user, check.method)
            return redirect(data["next"] or url_for("accounts.home"))
        flash(check.error or "That code is not valid.", "error")
        status = 429 if check.throttled else 401
    return render_template("accounts/mfa_verify.html", form=form, step_up=False), status


def _warn_if_recovery_code(user: User, method: str | None) -> None:
    if method == "recovery_code":
        left = mfa.remaining_recovery_codes(user)
        flash(
            f"You signed in with a recovery code; {left} left. "
            "Make new ones on the Security page if your authenticator is gone.",
            "info",
        )


@bp.post("/logout")
@require_role()
def logout():
    if LogoutForm().validate_on_submit():
        # Read before the session row ends.
        offer = external_sign_in().end_session_offer(sessions.current())
        record("auth.logout", actor=current_user, target=current_user)
        sessions.end("logout")
        logout_user()
        flash("You are signed out.", "info")
        if offer is not None:
            provider, url = offer
            return render_template("accounts/signed_out.html", provider=provider, url=url)
    return redirect(url_for("accounts.login"))


@bp.route("/")
def index():
    return redirect(url_for("accounts.home" if current_user.is_authenticated else "accounts.login"))


@bp.route("/home")
@require_role()
def home():
    return render_template("accounts/home.html", items=navigation_for(current_user))
