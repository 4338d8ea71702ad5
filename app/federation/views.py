"""Company sign-in pages: the OpenID Connect callback, linking an existing account, the
organization admin's provider settings with a test sign-in, and the procurement review."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError

from app.accounts import mfa, sessions
from app.accounts import services as accounts
from app.accounts.access import require_role
from app.accounts.models import User, UserSession
from app.accounts.urls import safe_next
from app.audit.services import record
from app.db import db, refusable
from app.federation import break_glass, flow, oidc, services
from app.federation.forms import BreakGlassForm, LinkForm, ProviderForm, RejectForm
from app.federation.models import IdentityProvider, ProviderStatus
from app.orgs.roles import ROLES_BY_ORG_KIND, Role

bp = Blueprint("federation", __name__)

ORG_ADMINS = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN, Role.PROCUREMENT_ADMIN)
# Failures where the provider (or its settings) is at fault rather than the sign-in itself.
PROVIDER_FAULTS = frozenset(
    {"discovery_failed", "discovery_incomplete", "discovery_refused"}
    | {"unsupported_algorithm", "provider_unreachable"}
)


def begin_sign_in(provider: IdentityProvider, next_url: str | None, login_hint: str | None):
    """Send the browser to the provider, or explain why its sign-in cannot start."""
    try:
        return flow.begin(provider, "login", next_url=next_url, login_hint=login_hint)
    except oidc.SignInError as exc:
        _audit_failure(provider, exc)
        return _refused("Company sign-in is not available", exc.message, provider, 502)


def _refused(title: str, message: str, provider: IdentityProvider | None, status: int):
    return render_template(
        "federation/refused.html", title=title, message=message, provider=provider
    ), status


def _audit_failure(provider: IdentityProvider, exc: oidc.SignInError) -> None:
    record(
        "auth.sso_failed",
        actor_label=f"sso:{provider.name}",
        organization_id=provider.organization_id,
        target=provider,
        details={"reason": exc.reason},
    )


def end_session_offer(row: UserSession | None) -> tuple[IdentityProvider, str] | None:
    """For a session that came from a provider with an end_session_endpoint: the provider and
    the URL that signs the person out there too (RP-initiated logout)."""
    if row is None or row.auth_method != "sso" or row.identity_provider_id is None:
        return None
    provider = db.session.get(IdentityProvider, row.identity_provider_id)
    if provider is None:
        return None
    back = url_for("accounts.login", _external=True)
    url = oidc.end_session_url(provider, back, row.id_token_hint)
    return (provider, url) if url else None


# -- signing in -------------------------------------------------------------------------------
@bp.post("/auth/oidc/<int:provider_id>/start")
def start(provider_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    provider = services.approved_provider(provider_id) or abort(404)
    return begin_sign_in(provider, safe_next(request.args.get("next")), None)


@bp.get("/auth/oidc/callback")
def callback():
    data = flow.take(request.args.get("state"))
    provider = db.session.get(IdentityProvider, data["provider_id"]) if data else None
    if data is None or provider is None:
        message = "This sign-in has expired or was started in another browser. Please start again."
        return _refused("Sign-in expired", message, None, 400)
    if data["purpose"] == "test":
        return _finish_test(provider, data)
    return _finish_login(provider, data)


def _finish_login(provider: IdentityProvider, data: dict[str, Any]):
    if not provider.is_approved:
        message = "This identity provider is not approved for signing in."
        return _refused("Company sign-in is not available", message, provider, 403)
    try:
        verified = oidc.finish(provider)
    except oidc.SignInError as exc:
        _audit_failure(provider, exc)
        status = 502 if exc.reason in PROVIDER_FAULTS else 401
        return _refused("Company sign-in failed", exc.message, provider, status)
    try:
        with refusable():
            outcome = services.sign_in_with_claims(provider, verified.claims)
            if isinstance(outcome, services.LinkRequired):
                return _ask_for_password(provider, outcome, verified.claims["sub"], data["next"])
            accounts.complete_sign_in(
                outcome, method="sso", provider_id=provider.id, id_token=verified.id_token
            )
    except services.SignInRefusedError as refusal:
        _audit_refusal(provider, refusal, verified.claims)
        return _refused(refusal.title, refusal.message, provider, 403)
    except IntegrityError:
        # Two first sign-ins of one person at the same moment: the other one created the link.
        message = "Your account was being set up by another sign-in. Please sign in again."
        return _refused("Please sign in again", message, provider, 409)
    login_user(outcome)
    return redirect(data["next"] or url_for("accounts.home"))


def _ask_for_password(
    provider: IdentityProvider, link: services.LinkRequired, subject: str, next_url: str | None
):
    flow.remember_link(provider, link.user, subject, link.roles, next_url)
    return redirect(url_for("federation.link"))


def _audit_refusal(
    provider: IdentityProvider, refusal: services.SignInRefusedError, claims: dict
) -> None:
    if refusal.reason == "no_role" and refusal.user is not None:
        sessions.end_all_for(refusal.user, "roles_revoked")
    record(
        "auth.sso_refused",
        actor=refusal.user,
        actor_label=str(claims.get("email") or claims.get("sub")),
        organization_id=provider.organization_id,
        target=provider,
        details={"reason": refusal.reason, "subject": str(claims.get("sub"))},
    )


@bp.route("/auth/oidc/link", methods=["GET", "POST"])
def link():
    pending = flow.pending_link()
    provider = services.approved_provider(pending["provider_id"]) if pending else None
    user = db.session.get(User, pending["user_id"]) if pending else None
    if pending is None or provider is None or user is None:
        flash("Linking took too long. Please sign in again.", "info")
        return redirect(url_for("accounts.login"))
    form = LinkForm()
    needs_code = mfa.is_enrolled(user)
    if form.validate_on_submit():
        error = _prove_ownership(user, form, needs_code)
        if error is None:
            services.confirm_link(provider, user, pending["subject"], pending["roles"])
            accounts.complete_sign_in(user, method="sso", provider_id=provider.id)
        if error is None:
            login_user(user)
            flash(f"Your account is now linked to {provider.name}.", "success")
            return redirect(pending["next"] or url_for("accounts.home"))
        flash(error, "error")
    page = render_template(
        "federation/link.html", form=form, provider=provider, user=user, needs_code=needs_code
    )
    return page, 401 if form.is_submitted() else 200


def _prove_ownership(user: User, form: LinkForm, needs_code: bool) -> str | None:
    ip_address = request.remote_addr or "unknown"
    result = accounts.check_password(user.email, form.password.data, ip_address)
    if result.user is None or result.user.id != user.id:
        return result.error or "That password is not right."
    if needs_code:
        check = mfa.check_code(user, form.code.data or "", ip_address)
        return check.error
    return None


# -- the organization admin's settings --------------------------------------------------------
def _own_provider(provider_id: int) -> IdentityProvider:
    org = current_user.organization
    return (org and services.provider_of(org, provider_id)) or abort(404)


def _provider_form() -> ProviderForm:
    roles = ROLES_BY_ORG_KIND[current_user.organization.kind.value]
    return ProviderForm(roles)


@bp.get("/settings/identity-providers")
@require_role(*ORG_ADMINS)
def providers():
    org = current_user.organization
    return render_template(
        "federation/providers.html", org=org, providers=services.providers_of(org)
    )


@bp.route("/settings/identity-providers/new", methods=["GET", "POST"])
@require_role(*ORG_ADMINS)
def new_provider():
    return _edit(None)


@bp.route("/settings/identity-providers/<int:provider_id>/edit", methods=["GET", "POST"])
@require_role(*ORG_ADMINS)
def edit_provider(provider_id: int):
    return _edit(_own_provider(provider_id))


def _edit(provider: IdentityProvider | None):
    form = _provider_form()
    if request.method == "GET" and provider is not None:
        form.fill_from(provider)
    if form.validate_on_submit():
        try:
            with refusable():
                saved = services.save_provider(
                    current_user.organization, form.settings(), current_user, provider
                )
        except services.ProviderConfigError as exc:
            _form_error(form, exc)
        else:
            if saved.status == ProviderStatus.PENDING:
                flash("Saved. A procurement admin approves it before anyone can use it.", "info")
            else:
                flash("Saved.", "success")
            return redirect(url_for("federation.provider", provider_id=saved.id))
    return render_template(
        "federation/provider_form.html",
        form=form,
        provider=provider,
        redirect_uri=url_for("federation.callback", _external=True),
    ), 422 if form.errors else 200


def _form_error(form: ProviderForm, exc: services.ProviderConfigError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        form.form_errors.append(str(exc))


@bp.get("/settings/identity-providers/<int:provider_id>")
@require_role(*ORG_ADMINS)
def provider(provider_id: int):
    return _detail(_own_provider(provider_id), review=False)


def _detail(provider: IdentityProvider, *, review: bool):
    org = provider.organization
    return render_template(
        "federation/provider.html",
        provider=provider,
        review=review,
        form=FlaskForm(),
        reject_form=RejectForm(),
        break_glass_accounts=break_glass.accounts_of(org),
        break_glass_form=BreakGlassForm(break_glass.candidates(org)),
        redirect_uri=url_for("federation.callback", _external=True),
        logout_uri=url_for("accounts.login", _external=True),
    )


@bp.post("/settings/identity-providers/<int:provider_id>/break-glass")
@require_role(*ORG_ADMINS)
def grant_break_glass(provider_id: int):
    provider = _own_provider(provider_id)
    return _grant_break_glass(provider, url_for("federation.provider", provider_id=provider.id))


@bp.post("/settings/identity-providers/<int:provider_id>/break-glass/<int:user_id>/revoke")
@require_role(*ORG_ADMINS)
def revoke_break_glass(provider_id: int, user_id: int):
    provider = _own_provider(provider_id)
    back = url_for("federation.provider", provider_id=provider.id)
    return _revoke_break_glass(provider, user_id, back)


def _grant_break_glass(provider: IdentityProvider, back: str):
    """Designate one of the provider's organization's admins as break-glass (CSRF form)."""
    org = provider.organization
    form = BreakGlassForm(break_glass.candidates(org))
    if not form.validate_on_submit():
        flash("Choose one of the organization's admins.", "error")
        return redirect(back)
    user = db.session.get(User, form.user_id.data) or abort(404)
    try:
        with refusable():
            break_glass.grant(org, user, current_user)
    except break_glass.BreakGlassError as exc:
        flash(str(exc), "error")
    else:
        flash(
            f"{user.email} may now sign in with password and two-step verification "
            f"while {provider.name} is required.",
            "success",
        )
    return redirect(back)


def _revoke_break_glass(provider: IdentityProvider, user_id: int, back: str):
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        with refusable():
            break_glass.revoke(provider.organization, user_id, current_user)
    except break_glass.BreakGlassError as exc:
        flash(str(exc), "error")
    else:
        flash("Break-glass access revoked.", "info")
    return redirect(back)


@bp.post("/settings/identity-providers/<int:provider_id>/test")
@require_role(*ORG_ADMINS)
def test_provider(provider_id: int):
    return _start_test(_own_provider(provider_id))


def _start_test(provider: IdentityProvider):
    """Run the real sign-in round trip and show the claims; nobody is signed in by it."""
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        return flow.begin(provider, "test")
    except oidc.SignInError as exc:
        services.record_test(provider, current_user, exc.message)
        return _test_result(provider, None, exc.message)


def _finish_test(provider: IdentityProvider, data: dict[str, Any]):
    if not current_user.is_authenticated or current_user.id != data["user_id"]:
        abort(403, "Start the test sign-in again from the provider's page.")
    try:
        verified = oidc.finish(provider)
    except oidc.SignInError as exc:
        services.record_test(provider, current_user, exc.message)
        return _test_result(provider, None, exc.message)
    services.record_test(provider, current_user, None)
    return _test_result(provider, verified.claims, None)


def _test_result(provider: IdentityProvider, claims: dict | None, error: str | None):
    preview = services.preview_sign_in(provider, claims) if claims else None
    in_own_org = provider.organization_id == current_user.organization.id
    back = "federation.provider" if in_own_org else "federation.review_detail"
    return render_template(
        "federation/test_result.html",
        provider=provider,
        claims=claims,
        error=error,
        preview=preview,
        back_url=url_for(back, provider_id=provider.id),
    )


# -- the procurement admin's review -----------------------------------------------------------
@bp.get("/admin/identity-providers")
@require_role(Role.PROCUREMENT_ADMIN)
def review():
    pending_first = case((IdentityProvider.status == ProviderStatus.PENDING, 0), else_=1)
    rows = db.session.scalars(
        select(IdentityProvider).order_by(pending_first, IdentityProvider.updated_at.desc())
    ).all()
    return render_template("federation/review.html", providers=rows)


def _any_provider(provider_id: int) -> IdentityProvider:
    return db.session.get(IdentityProvider, provider_id) or abort(404)


@bp.get("/admin/identity-providers/<int:provider_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def review_detail(provider_id: int):
    return _detail(_any_provider(provider_id), review=True)


@bp.post("/admin/identity-providers/<int:provider_id>/test")
@require_role(Role.PROCUREMENT_ADMIN)
def review_test(provider_id: int):
    return _start_test(_any_provider(provider_id))


@bp.post("/admin/identity-providers/<int:provider_id>/break-glass")
@require_role(Role.PROCUREMENT_ADMIN)
def review_grant_break_glass(provider_id: int):
    provider = _any_provider(provider_id)
    back = url_for("federation.review_detail", provider_id=provider.id)
    return _grant_break_glass(provider, back)


@bp.post("/admin/identity-providers/<int:provider_id>/break-glass/<int:user_id>/revoke")
@require_role(Role.PROCUREMENT_ADMIN)
def review_revoke_break_glass(provider_id: int, user_id: int):
    provider = _any_provider(provider_id)
    back = url_for("federation.review_detail", provider_id=provider.id)
    return _revoke_break_glass(provider, user_id, back)


@bp.post("/admin/identity-providers/<int:provider_id>/approve")
@require_role(Role.PROCUREMENT_ADMIN)
def approve(provider_id: int):
    provider = _any_provider(provider_id)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        with refusable():
            services.approve(provider, current_user)
    except services.ProviderConfigError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{provider.name} is approved: its users can sign in with it now.", "success")
    return redirect(url_for("federation.review_detail", provider_id=provider.id))


@bp.post("/admin/identity-providers/<int:provider_id>/reject")
@require_role(Role.PROCUREMENT_ADMIN)
def reject(provider_id: int):
    provider = _any_provider(provider_id)
    form = RejectForm()
    if not form.validate_on_submit():
        flash("Say what must change before rejecting.", "error")
    else:
        services.reject(provider, current_user, form.note.data)
        flash(f"{provider.name} was sent back to {provider.organization.name}.", "info")
    return redirect(url_for("federation.review_detail", provider_id=provider.id))
