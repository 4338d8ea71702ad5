"""Pages for suppliers and partners: registration, the profile wizard, documents, bank details
and connections. Every page takes the organization id from the URL and answers 404 unless it is
the viewer's own organization."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_user

from app.accounts import services as accounts
from app.accounts.access import require_role
from app.accounts.mfa import require_recent_mfa
from app.crypto import mask
from app.db import db, refusable, utcnow
from app.onboarding import banking, connections, documents, enrollment, forms, review, rules
from app.onboarding.errors import FieldError, OnboardingError
from app.onboarding.models import SupportingDocumentKind, existing_profile
from app.onboarding.profile import draft_bank_account, profile_of, section_status
from app.onboarding.steps import STEPS, bank_details, next_section, payment_terms
from app.orgs.models import Organization, OrgKind
from app.orgs.roles import Role
from app.orgs.scope import live_for_partner

bp = Blueprint("onboarding", __name__)
ORG_ADMINS = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)


@bp.app_template_filter("mask")
def mask_filter(value: str | None) -> str:
    """Secrets on pages show only their last four characters."""
    return mask(value)


def own_organization(org_id: int, kind: OrgKind | None = None) -> Organization:
    """The viewer's organization if `org_id` names it; anything else is answered 404."""
    org = current_user.organization
    if org is None or org.id != org_id or (kind is not None and org.kind != kind):
        abort(404)
    return org


def attach_error(form, error: FieldError) -> None:
    """Show a service's FieldError under the field it names (or at the top of the form)."""
    field = getattr(form, error.field, None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def attempt(action: Callable[[], object], success: str) -> bool:
    """Run `action` in its own unit of work. A refusal (OnboardingError) is the user's answer
    and is flashed as an error, otherwise `success` is flashed; True when it went through."""
    try:
        with refusable():
            action()
    except OnboardingError as exc:
        flash(str(exc), "error")
        return False
    flash(success, "success")
    return True


# -- entry: registration and the mailed link ---------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = forms.RegisterForm()
    if form.validate_on_submit():
        enrollment.register(
            form.email.data,
            form.company_name.data,
            OrgKind(form.kind.data),
            form.contact_name.data,
        )
        return redirect(url_for(".registration_sent"))
    return render_template("onboarding/register.html", form=form), 422 if form.errors else 200


@bp.get("/register/sent")
def registration_sent():
    return render_template("onboarding/register_sent.html")


@bp.route("/enroll/<token>", methods=["GET", "POST"])
def enroll(token: str):
    pending = enrollment.find_usable(token)
    if pending is None:
        return render_template("onboarding/link_invalid.html"), 404
    form = forms.EnrollForm(data={"name": pending.contact_name})
    if form.validate_on_submit():
        try:
            with refusable():
                user = enrollment.complete(token, form.name.data, form.password.data)
                accounts.complete_sign_in(user)
        except OnboardingError as exc:
            flash(str(exc), "error")
        else:
            login_user(user)
            flash("Welcome! Fill in your profile; every step is saved as a draft.", "success")
            return redirect(url_for(".my_profile"))
    return render_template(
        "onboarding/enroll.html", form=form, pending=pending
    ), 422 if form.errors else 200


# -- the profile -------------------------------------------------------------------------------


@bp.get("/onboarding")
@require_role(*ORG_ADMINS)
def my_profile():
    return redirect(url_for(".overview", org_id=current_user.organization.id))


@bp.get("/organizations/<int:org_id>/profile")
@require_role(*ORG_ADMINS)
def overview(org_id: int):
    org = own_organization(org_id)
    return render_template(
        "onboarding/overview.html",
        org=org,
        profile=profile_of(org),
        sections=rules.sections_for(org.kind),
        status=section_status(org),
        comments=review.open_comments(org),
        editable=org.status in rules.EDITABLE_STATES,
        submit_form=forms.SubmitForm(),
    )


@bp.route("/organizations/<int:org_id>/profile/<section>", methods=["GET", "POST"])
@require_role(*ORG_ADMINS)
def step(org_id: int, section: str):
    org = own_organization(org_id)
    if section == "documents" and org.kind == OrgKind.SUPPLIER:
        return redirect(url_for(".documents_page", org_id=org.id))
    wizard_step = STEPS.get((org.kind, section)) or abort(404)
    form = wizard_step.form(data=wizard_step.load(org))
    editable = org.status in rules.EDITABLE_STATES
    if request.method == "POST" and not editable:
        flash(f"The profile cannot be changed while it is {org.status.value.lower()}.", "error")
        return redirect(url_for(".overview", org_id=org.id))
    if form.validate_on_submit():
        try:
            with refusable():
                wizard_step.save(org, form, current_user)
        except FieldError as error:
            attach_error(form, error)
        else:
            flash("Saved as a draft.", "success")
            following = next_section(org.kind, section)
            target = (
                url_for(".step", org_id=org.id, section=following)
                if following
                else url_for(".overview", org_id=org.id)
            )
            return redirect(target)
    return render_template(
        "onboarding/step.html",
        org=org,
        profile=existing_profile(org),
        form=form,
        section=section,
        sections=rules.sections_for(org.kind),
        comments=[c for c in review.open_comments(org) if c.section == section],
        editable=editable,
        bank=draft_bank_account(org) if section == "bank" else None,
        payment_terms=payment_terms(),
    ), 422 if form.errors else 200


@bp.post("/organizations/<int:org_id>/profile/submit")
@require_role(*ORG_ADMINS)
def submit(org_id: int):
    org = own_organization(org_id)
    if not forms.SubmitForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    attempt(
        lambda: review.submit(org, actor=current_user),
        "Submitted. Procurement will review your profile; we will mail you the outcome.",
    )
    return redirect(url_for(".overview", org_id=org.id))


# -- documents ---------------------------------------------------------------------------------


@bp.route("/organizations/<int:org_id>/documents", methods=["GET", "POST"])
@require_role(Role.SUPPLIER_ADMIN)
def documents_page(org_id: int):
    org = own_organization(org_id, OrgKind.SUPPLIER)
    form = forms.DocumentForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            with refusable():
                documents.store(
                    org,
                    SupportingDocumentKind(form.kind.data),
                    upload.filename or "",
                    upload.stream,
                    expires_on=form.expires_on.data,
                    actor=current_user,
                )
        except FieldError as error:
            attach_error(form, error)
        except OnboardingError as exc:
            flash(str(exc), "error")
        else:
            flash("Document uploaded.", "success")
            return redirect(url_for(".documents_page", org_id=org.id))
    return render_template(
        "onboarding/documents.html",
        org=org,
        form=form,
        current=documents.current_documents(org),
        required=rules.required_documents(org.country),
        today=utcnow().date(),
        history=documents.all_documents(org),
        comments=[c for c in review.open_comments(org) if c.section == "documents"],
        sections=rules.sections_for(org.kind),
        can_upload=org.status in rules.UPLOAD_STATES,
    ), 422 if form.errors else 200


@bp.get("/organizations/<int:org_id>/documents/<int:document_id>")
@require_role(Role.SUPPLIER_ADMIN)
def download_document(org_id: int, document_id: int):
    org = own_organization(org_id, OrgKind.SUPPLIER)
    document = documents.document_of(org, document_id) or abort(404)
    return send_document(document)


def send_document(document):
    response = send_file(
        documents.path_of(document),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.original_name,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- bank details after activation -------------------------------------------------------------


@bp.route("/organizations/<int:org_id>/bank", methods=["GET", "POST"])
@require_role(Role.SUPPLIER_ADMIN)
def bank(org_id: int):
    # Scoped first, so another organization's id answers 404 before any second-factor prompt.
    return _bank_page(own_organization(org_id, OrgKind.SUPPLIER))


@require_recent_mfa
def _bank_page(org: Organization):
    """Bank details, and a change request: only with a second factor checked recently."""
    form = forms.BankForm()
    pending = banking.pending_change(org)
    can_change = org.status in banking.CHANGE_STATES and pending is None
    if can_change and form.validate_on_submit():
        try:
            with refusable():
                banking.request_change(
                    org,
                    form.account_holder.data,
                    form.bank_name.data,
                    bank_details(form),
                    actor=current_user,
                )
        except FieldError as error:
            attach_error(form, error)
        except OnboardingError as exc:
            flash(str(exc), "error")
        else:
            flash(
                "Change requested. Your current details stay in force until two procurement "
                "admins approve it.",
                "success",
            )
            return redirect(url_for(".bank", org_id=org.id))
    return render_template(
        "onboarding/bank.html",
        org=org,
        form=form,
        active=banking.active_account(org),
        pending=pending,
        draft=draft_bank_account(org),
        history=banking.history(org),
        can_change=can_change,
    ), 422 if form.errors else 200


@bp.get("/organizations/<int:org_id>/bank/<int:account_id>")
@require_role(Role.SUPPLIER_ADMIN)
def bank_account(org_id: int, account_id: int):
    org = own_organization(org_id, OrgKind.SUPPLIER)
    account = banking.account_of(org, account_id) or abort(404)
    return render_template("onboarding/bank_account.html", org=org, account=account)


# -- connections -------------------------------------------------------------------------------


@bp.get("/connections")
@require_role(*ORG_ADMINS)
def my_connections():
    org = current_user.organization
    if org.kind == OrgKind.PARTNER:
        return redirect(url_for(".connected_suppliers", org_id=org.id))
    return redirect(url_for(".connections_page", org_id=org.id))


@bp.route("/organizations/<int:org_id>/connections", methods=["GET", "POST"])
@require_role(Role.SUPPLIER_ADMIN)
def connections_page(org_id: int):
    org = own_organization(org_id, OrgKind.SUPPLIER)
    form = forms.ConnectionForm()
    partners = connections.active_partners()
    form.partner_id.choices = forms.choices((p.id, p.name) for p in partners)
    if form.validate_on_submit():
        partner = db.session.get(Organization, form.partner_id.data) or abort(404)
        if attempt(
            lambda: connections.grant(org, partner, form.document_types.data, actor=current_user),
            f"{partner.name} may now act for you.",
        ):
            return redirect(url_for(".connections_page", org_id=org.id))
    return render_template(
        "onboarding/connections.html",
        org=org,
        form=form,
        partners=partners,
        connections=connections.for_supplier(org),
        revoke_form=forms.ConfirmForm(),
        labels=forms.DOCUMENT_TYPE_LABELS,
    ), 422 if form.errors else 200


@bp.post("/organizations/<int:org_id>/connections/<int:connection_id>/revoke")
@require_role(Role.SUPPLIER_ADMIN)
def revoke_connection(org_id: int, connection_id: int):
    org = own_organization(org_id, OrgKind.SUPPLIER)
    connection = connections.connection_of(org, connection_id) or abort(404)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    attempt(
        lambda: connections.revoke(org, connection, actor=current_user),
        "Connection revoked: the partner can no longer act for you.",
    )
    return redirect(url_for(".connections_page", org_id=org.id))


@bp.get("/organizations/<int:org_id>/connected-suppliers")
@require_role(Role.PARTNER_ADMIN)
def connected_suppliers(org_id: int):
    org = own_organization(org_id, OrgKind.PARTNER)
    return render_template(
        "onboarding/connected_suppliers.html",
        org=org,
        connections=live_for_partner(org.id),
        labels=forms.DOCUMENT_TYPE_LABELS,
    )
