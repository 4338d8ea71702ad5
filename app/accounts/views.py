"""Sign-in, sign-out and the signed-in landing page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from app.accounts import services, sessions
from app.accounts.access import navigation_for, require_role
from app.accounts.forms import LoginForm, LogoutForm
from app.audit.services import record
from app.db import unit_of_work

bp = Blueprint("accounts", __name__)

EXPIRY_MESSAGES = {
    "idle_timeout": "You were signed out after 30 minutes without activity.",
    "absolute_timeout": "Your session reached its 12-hour limit. Please sign in again.",
    "user_disabled": "Your account has been disabled. Contact your administrator.",
}


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.app_context_processor
def inject_navigation():
    return {"navigation": navigation_for(current_user), "logout_form": LogoutForm()}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.home"))
    if reason := session.pop("expired_reason", None):
        flash(EXPIRY_MESSAGES.get(reason, "Your session ended. Please sign in again."), "info")
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work():
            result = services.sign_in(
                form.email.data, form.password.data, request.remote_addr or "unknown"
            )
        if result.user is not None:
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("accounts.home"))
        flash(result.error, "error")
        return render_template("accounts/login.html", form=form), 429 if result.throttled else 401
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@require_role()
def logout():
    if LogoutForm().validate_on_submit():
        with unit_of_work():
            record("auth.logout", actor=current_user, target=current_user)
            sessions.end("logout")
        flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/")
def index():
    return redirect(url_for("accounts.home" if current_user.is_authenticated else "accounts.login"))


@bp.route("/home")
@require_role()
def home():
    return render_template("accounts/home.html", items=navigation_for(current_user))
