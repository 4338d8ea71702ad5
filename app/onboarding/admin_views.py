"""Procurement's onboarding pages: invitations, the review queue, and each organization's
detail page with its checks, decisions, bank changes and full history."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from app.accounts import mfa, mfa_reset
from app.accounts.access import require_role
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.db import db, refusable, utcnow
from app.mail import backend_name
from app.oauth.scopes import SUPPLIER_DEFAULT_SCOPES
from app.onboarding import (
    banking,
    connections,
    documents,
    enrollment,
    forms,
    review,
    rules,
    screening,
    suspension,
)
from app.onboarding.errors import OnboardingError
from app.onboarding.models import BankAccount, BankStatus
from app.onboarding.profile import draft_bank_account, profile_of
from app.onboarding.views import attempt, send_document
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.orgs.roles import Role
from app.orgs.scope import live_for_partner

bp = Blueprint("onboarding_admin", __name__, url_prefix="/admin/onboarding")
HISTORY_LIMIT = 500


def _organization(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None or org.kind == OrgKind.BUYER:
        abort(404)
    return org


def _back(org: Organization):
    return redirect(url_for(".organization", org_id=org.id))


def _decide(org: Organization, action, success: str):
    """Run one review decision in its own unit of work; refusals are shown, not raised."""
    attempt(action, success)
    return _back(org)


def _valid_post(form) -> bool:
    """Validate a posted form; its errors are flashed for the detail page."""
    if form.validate_on_submit():
        return True
    message = "; ".join(
        f"{form[name].label.text}: {' '.join(errs)}" for name, errs in form.errors.items()
    )
    flash(message or "The form expired. Reload the page and try again.", "error")
    return False


# -- invitations and the queue -----------------------------------------------------------------


@bp.route("/invitations", methods=["GET", "POST"])
@require_role(Role.PROCUREMENT_ADMIN)
def invitations():
    form = forms.InviteForm()
    refused = False
    if form.validate_on_submit():
        sent = attempt(
            lambda: enrollment.invite(
                form.email.data,
                form.company_name.data,
                OrgKind(form.kind.data),
                form.contact_name.data,
                actor=current_user,
            ),
            f"Invitation sent to {form.email.data}.",
        )
        if sent:
            return redirect(url_for(".invitations"))
        refused = True
    return render_template(
        "onboarding/admin/invitations.html",
        form=form,
        invitations=enrollment.pending_invitations(),
        dev_mailbox=backend_name() == "dev",
        now=utcnow(),
        confirm_form=forms.ConfirmForm(),
    ), 422 if form.errors or refused else 200


@bp.post("/invitations/<int:enrollment_id>/resend")
@require_role(Role.PROCUREMENT_ADMIN)
def resend_invitation(enrollment_id: int):
    invitation = enrollment.invitation_by_id(enrollment_id) or abort(404)
    if _valid_post(forms.ConfirmForm()):
        attempt(
            lambda: enrollment.resend(invitation, actor=current_user),
            f"A new link was sent to {invitation.email}; the old one no longer works.",
        )
    return redirect(url_for(".invitations"))


@bp.post("/invitations/<int:enrollment_id>/revoke")
@require_role(Role.PROCUREMENT_ADMIN)
def revoke_invitation(enrollment_id: int):
    invitation = enrollment.invitation_by_id(enrollment_id) or abort(404)
    if _valid_post(forms.ConfirmForm()):
        attempt(
            lambda: enrollment.revoke(invitation, actor=current_user),
            f"The invitation to {invitation.email} is revoked; its link no longer works.",
        )
    return redirect(url_for(".invitations"))


@bp.get("")
@require_role(Role.PROCUREMENT_ADMIN)
def queue():
    submitted = db.session.scalars(
        select(Organization)
        .where(Organization.status.in_([OrgStatus.SUBMITTED, OrgStatus.APPROVED]))
        .order_by(Organization.updated_at)
    ).all()
    bank_changes = db.session.scalars(
        select(BankAccount).where(BankAccount.status == BankStatus.PENDING).order_by(BankAccount.id)
    ).all()
    return render_template(
        "onboarding/admin/queue.html", submitted=submitted, bank_changes=bank_changes
    )


# -- one organization --------------------------------------------------------------------------


def history(org: Organization) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(
            or_(
                AuditEntry.organization_id == org.id,
                (AuditEntry.target_type == "Organization") & (AuditEntry.target_id == str(org.id)),
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY_LIMIT)
    )
    return list(db.session.scalars(query))


@bp.get("/<int:org_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def organization(org_id: int):
    org = _organization(org_id)
    profile = profile_of(org)
    default_scopes = (
        profile.scopes_wanted if org.kind == OrgKind.PARTNER else SUPPLIER_DEFAULT_SCOPES
    )
    changes_form = forms.ChangesForm()
    return render_template(
        "onboarding/admin/organization.html",
        org=org,
        profile=profile,
        checks=review.checks(org) if org.status == OrgStatus.SUBMITTED else [],
        sections=rules.sections_for(org.kind),
        screening=screening.latest(org),
        current_documents=documents.current_documents(org),
        all_documents=documents.all_documents(org),
        bank=banking.active_account(org) or draft_bank_account(org),
        pending_bank=banking.pending_change(org),
        bank_history=banking.history(org),
        connections=connections.for_supplier(org)
        if org.kind == OrgKind.SUPPLIER
        else live_for_partner(org.id),
        comments=review.all_comments(org),
        history=history(org),
        approve_form=forms.ApproveForm(data={"scopes": list(default_scopes)}),
        reason_form=forms.ReasonForm(),
        changes_form=changes_form,
        confirm_form=forms.ConfirmForm(),
        labels=forms.DOCUMENT_TYPE_LABELS,
        members=_members(org),
    )


def _members(org: Organization) -> list[dict]:
    return [
        {
            "user": user,
            "enrolled": mfa.is_enrolled(user),
            "reset": mfa_reset.open_request(user),
        }
        for user in suspension.members_of(org)
    ]


@bp.post("/<int:org_id>/suspend")
@require_role(Role.PROCUREMENT_ADMIN)
def suspend(org_id: int):
    org = _organization(org_id)
    form = forms.ReasonForm()
    if not _valid_post(form):
        return _back(org)
    return _decide(
        org,
        lambda: suspension.suspend(org, form.reason.data, actor=current_user),
        "Suspended: its people were signed out and its API tokens are refused.",
    )


@bp.post("/<int:org_id>/reactivate")
@require_role(Role.PROCUREMENT_ADMIN)
def reactivate(org_id: int):
    org = _organization(org_id)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    return _decide(org, lambda: suspension.reactivate(org, actor=current_user), "Reactivated.")


def _member(org: Organization, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not any(m.organization_id == org.id for m in user.memberships):
        abort(404)
    return user


def _mfa_action(action, success: str) -> None:
    try:
        with refusable():
            action()
    except mfa.MfaError as exc:
        flash(str(exc), "error")
    else:
        flash(success, "success")


@bp.post("/<int:org_id>/users/<int:user_id>/mfa-reset")
@require_role(Role.PROCUREMENT_ADMIN)
def request_mfa_reset(org_id: int, user_id: int):
    org = _organization(org_id)
    user = _member(org, user_id)
    form = forms.ReasonForm()
    if _valid_post(form):
        _mfa_action(
            lambda: mfa_reset.request_reset(user, form.reason.data, actor=current_user),
            "Reset requested; a second procurement admin must confirm it.",
        )
    return _back(org)


@bp.post("/<int:org_id>/users/<int:user_id>/mfa-reset/confirm")
@require_role(Role.PROCUREMENT_ADMIN)
def confirm_mfa_reset(org_id: int, user_id: int):
    org = _organization(org_id)
    user = _member(org, user_id)
    if _valid_post(forms.ConfirmForm()):
        _mfa_action(
            lambda: mfa_reset.confirm_reset(user, actor=current_user),
            f"Two-step verification of {user.email} is reset; they set it up at next sign-in.",
        )
    return _back(org)


@bp.post("/<int:org_id>/users/<int:user_id>/mfa-reset/cancel")
@require_role(Role.PROCUREMENT_ADMIN)
def cancel_mfa_reset(org_id: int, user_id: int):
    org = _organization(org_id)
    user = _member(org, user_id)
    if _valid_post(forms.ConfirmForm()):
        _mfa_action(
            lambda: mfa_reset.cancel_reset(user, actor=current_user), "Reset request cancelled."
        )
    return _back(org)


@bp.post("/<int:org_id>/approve")
@require_role(Role.PROCUREMENT_ADMIN)
def approve(org_id: int):
    org = _organization(org_id)
    form = forms.ApproveForm()
    if not _valid_post(form):
        return _back(org)
    success = (
        "Approved. The ERP vendor is being created; the supplier becomes active when it exists."
        if org.kind == OrgKind.SUPPLIER
        else "Approved: the partner is active."
    )
    return _decide(
        org, lambda: review.approve(org, form.scopes.data or [], actor=current_user), success
    )


@bp.post("/<int:org_id>/reject")
@require_role(Role.PROCUREMENT_ADMIN)
def reject(org_id: int):
    org = _organization(org_id)
    form = forms.ReasonForm()
    if not _valid_post(form):
        return _back(org)
    return _decide(
        org, lambda: review.reject(org, form.reason.data, actor=current_user), "Rejected."
    )


@bp.post("/<int:org_id>/request-changes")
@require_role(Role.PROCUREMENT_ADMIN)
def request_changes(org_id: int):
    org = _organization(org_id)
    form = forms.ChangesForm()
    if not _valid_post(form):
        return _back(org)
    comments = {s.key: getattr(form, s.key).data or "" for s in rules.sections_for(org.kind)}
    return _decide(
        org,
        lambda: review.request_changes(org, comments, actor=current_user),
        "Changes requested; the organization was told by mail.",
    )


@bp.post("/<int:org_id>/screening/override")
@require_role(Role.PROCUREMENT_ADMIN)
def override_screening(org_id: int):
    """The first of two admins proposes an override with a reason."""
    org = _organization(org_id)
    latest = screening.latest(org) or abort(404)
    form = forms.ReasonForm()
    if not _valid_post(form):
        return _back(org)
    return _decide(
        org,
        lambda: screening.propose_override(org, latest, form.reason.data, actor=current_user),
        "Override proposed; a second procurement admin must confirm it before approval.",
    )


@bp.post("/<int:org_id>/screening/override/confirm")
@require_role(Role.PROCUREMENT_ADMIN)
def confirm_screening_override(org_id: int):
    org = _organization(org_id)
    latest = screening.latest(org) or abort(404)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    return _decide(
        org,
        lambda: screening.confirm_override(org, latest, actor=current_user),
        "Screening overridden; the reason and both admins are in the audit log.",
    )


@bp.post("/<int:org_id>/screening/override/withdraw")
@require_role(Role.PROCUREMENT_ADMIN)
def withdraw_screening_override(org_id: int):
    org = _organization(org_id)
    latest = screening.latest(org) or abort(404)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    return _decide(
        org,
        lambda: screening.withdraw_override(org, latest, actor=current_user),
        "Override proposal withdrawn.",
    )


@bp.post("/<int:org_id>/screening/run")
@require_role(Role.PROCUREMENT_ADMIN)
def rescreen(org_id: int):
    org = _organization(org_id)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    return _decide(org, lambda: screening.screen(org, actor=current_user), "Screened again.")


@bp.post("/<int:org_id>/erp-sync")
@require_role(Role.PROCUREMENT_ADMIN)
def retry_sync(org_id: int):
    org = _organization(org_id)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    return _decide(
        org,
        lambda: review.retry_vendor_sync(org, actor=current_user),
        "ERP vendor sync queued again.",
    )


@bp.post("/<int:org_id>/bank/<int:account_id>/approve")
@require_role(Role.PROCUREMENT_ADMIN)
def approve_bank(org_id: int, account_id: int):
    org = _organization(org_id)
    account = banking.account_of(org, account_id) or abort(404)
    if not _valid_post(forms.ConfirmForm()):
        return _back(org)
    try:
        with refusable():
            in_force = banking.approve_change(org, account, actor=current_user)
    except OnboardingError as exc:
        flash(str(exc), "error")
    else:
        flash(
            "Second approval given: the new bank details are in force."
            if in_force
            else "First approval recorded; a second procurement admin must approve too.",
            "success",
        )
    return _back(org)


@bp.post("/<int:org_id>/bank/<int:account_id>/reject")
@require_role(Role.PROCUREMENT_ADMIN)
def reject_bank(org_id: int, account_id: int):
    org = _organization(org_id)
    account = banking.account_of(org, account_id) or abort(404)
    form = forms.ReasonForm()
    if not _valid_post(form):
        return _back(org)
    return _decide(
        org,
        lambda: banking.reject_change(org, account, form.reason.data, actor=current_user),
        "Bank change rejected; the current details stay in force.",
    )


@bp.get("/<int:org_id>/documents/<int:document_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def document(org_id: int, document_id: int):
    org = _organization(org_id)
    return send_document(documents.document_of(org, document_id) or abort(404))
