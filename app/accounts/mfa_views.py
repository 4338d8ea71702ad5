"""Account security pages: setting up the authenticator app (also right after a staff member's
password, before their session exists), the step-up check for sensitive pages, new recovery
codes, and turning two-step verification off."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from app.accounts import mfa, services, sessions
from app.accounts.access import require_role
from app.accounts.external import external_sign_in
from app.accounts.forms import CodeForm
from app.accounts.models import User
from app.accounts.urls import safe_next
from app.accounts.views import pending_sign_in
from app.audit.services import record
from app.db import refusable

bp = Blueprint("mfa", __name__, url_prefix="/account")


def _ip() -> str:
    return request.remote_addr or "unknown"


@bp.get("/security")
@require_role()
def security():
    return render_template(
        "accounts/security.html",
        enrolled=mfa.is_enrolled(current_user),
        required=mfa.required_for(current_user),
        codes_left=mfa.remaining_recovery_codes(current_user),
        identities=external_sign_in().identities_of(current_user),
        session_row=sessions.current(),
        form=CodeForm(),
    )


def _enrolling() -> tuple[User | None, dict | None]:
    """Who is setting up the app: the signed-in user, or a staff member whose password was
    right but who has no second factor yet (their session starts once this is done)."""
    if current_user.is_authenticated:
        return current_user, None
    pending = pending_sign_in("enrol")
    return pending if pending else (None, None)


@bp.route("/mfa/setup", methods=["GET", "POST"])
def setup():
    user, pending = _enrolling()
    if user is None:
        flash("Please sign in again.", "info")
        return redirect(url_for("accounts.login"))
    if mfa.is_enrolled(user):
        flash("Two-step verification is already on.", "info")
        return redirect(url_for("mfa.security"))
    next_url = (pending or {}).get("next") or safe_next(request.args.get("next"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        check = mfa.confirm_enrolment(user, form.code.data, _ip())
        if check.ok and pending:
            services.complete_sign_in(user, second_factor="totp")
        elif check.ok:
            mfa.mark_session_verified()
        if check.ok:
            if pending:
                login_user(user)
            flash(
                "Two-step verification is on. Keep your recovery codes somewhere safe.", "success"
            )
            landing = "accounts.home" if pending else "mfa.security"
            return redirect(next_url or url_for(landing))
        flash(check.error or "That code is not valid.", "error")
        status = 429 if check.throttled else 401
    return _setup_page(user, form, required=pending is not None, status=status)


def _setup_page(user: User, form: CodeForm, *, required: bool, status: int):
    """Each rendering shows fresh recovery codes: only their hashes are kept, so the ones on
    an earlier page can never be shown again."""
    credential, codes = mfa.begin_enrolment(user)
    page = render_template(
        "accounts/mfa_setup.html",
        form=form,
        qr=mfa.qr_svg(mfa.provisioning_uri(user, credential)),
        secret=mfa.readable_secret(credential.secret),
        codes=codes,
        required=required,
    )
    return _no_store(page, status)


def _no_store(page: str, status: int = 200):
    """Secrets on a page must not stay in the browser's or a proxy's cache."""
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/mfa/verify", methods=["GET", "POST"])
@require_role()
def step_up():
    next_url = safe_next(request.args.get("next")) or url_for("mfa.security")
    if not mfa.is_enrolled(current_user):
        return redirect(url_for("mfa.setup", next=next_url))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        check = mfa.check_code(current_user, form.code.data, _ip())
        if check.ok:
            mfa.mark_session_verified()
            record("mfa.step_up", actor=current_user, target=current_user)
        if check.ok:
            return redirect(next_url)
        flash(check.error or "That code is not valid.", "error")
        status = 429 if check.throttled else 401
    return render_template("accounts/mfa_verify.html", form=form, step_up=True), status


def _checked_code() -> bool:
    """The sensitive actions on the security page each need a current code in their form."""
    form = CodeForm()
    if not form.validate_on_submit():
        flash("Enter a code from your authenticator app.", "error")
        return False
    check = mfa.check_code(current_user, form.code.data, _ip())
    if not check.ok:
        flash(check.error or "That code is not valid.", "error")
    return check.ok


@bp.post("/mfa/recovery-codes")
@require_role()
def new_recovery_codes():
    if not _checked_code():
        return redirect(url_for("mfa.security"))
    codes = mfa.regenerate_recovery_codes(current_user)
    return _no_store(render_template("accounts/recovery_codes.html", codes=codes))


@bp.post("/mfa/disable")
@require_role()
def disable():
    if not _checked_code():
        return redirect(url_for("mfa.security"))
    try:
        with refusable():
            mfa.disable(current_user)
    except mfa.MfaError as exc:
        flash(str(exc), "error")
    else:
        flash("Two-step verification is off.", "info")
    return redirect(url_for("mfa.security"))
