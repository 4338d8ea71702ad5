"""Tier pages: API usage and tier requests for partner and supplier admins; tiers, requests
and assignments for procurement admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from app.accounts.access import require_role
from app.db import db, refusable, utcnow
from app.orgs.models import Organization, OrgKind
from app.orgs.roles import Role
from app.throttling import services
from app.throttling.chart import hourly_chart
from app.throttling.enforcement import throttling
from app.throttling.forms import (
    DecisionForm,
    OverrideForm,
    TierChoiceForm,
    TierForm,
    TierRequestForm,
    with_tier_choices,
)
from app.throttling.models import ClientTierOverride, Tier, TierRequest
from app.throttling.usage import organization_usage

bp = Blueprint("throttling", __name__)
API_ROLES = (Role.PARTNER_ADMIN, Role.SUPPLIER_ADMIN)
API_ORG_KINDS = (OrgKind.PARTNER, OrgKind.SUPPLIER)


def _own_organization() -> Organization:
    org = current_user.organization
    if org is None or org.kind not in API_ORG_KINDS:
        abort(404)
    return org


def _request_form(current: Tier) -> TierRequestForm:
    others = [t for t in services.all_tiers() if t.id != current.id]
    return with_tier_choices(TierRequestForm(), others)


# -- partner and supplier admins --------------------------------------------------------


@bp.get("/api-usage")
@require_role(*API_ROLES)
def usage():
    org = _own_organization()
    tier = services.organization_tier(org.id)
    # One query for every client's limits, rather than one lookup per client in the figures.
    org_limits = services.limits_of(tier)
    overrides = {o.api_client_id: services.limits_of(o.tier) for o in services.overrides_of(org.id)}
    figures = organization_usage(
        throttling().redis,
        org.id,
        utcnow(),
        lambda client_id: overrides.get(client_id, org_limits),
    )
    return render_template(
        "throttling/usage.html",
        org=org,
        tier=tier,
        usage=figures,
        chart=hourly_chart(figures.hours) if figures.available else None,
        form=_request_form(tier),
        latest=services.latest_request(org.id),
    )


@bp.post("/api-usage/tier-request")
@require_role(*API_ROLES)
def request_tier():
    org = _own_organization()
    form = _request_form(services.organization_tier(org.id))
    if not form.validate_on_submit():
        flash("Choose a tier and say why your organization needs it.", "error")
        return redirect(url_for("throttling.usage"))
    tier = db.session.get(Tier, form.tier.data) or abort(404)
    try:
        with refusable():
            services.request_tier(org, tier, form.reason.data, actor=current_user)
    except services.ThrottlingError as error:
        flash(str(error), "error")
        return redirect(url_for("throttling.usage"))
    flash(f"Your request for {tier.name} waits for a procurement admin's decision.", "success")
    return redirect(url_for("throttling.usage"))


# -- procurement admins: tiers ------------------------------------------------------------


@bp.get("/admin/api-tiers")
@require_role(Role.PROCUREMENT_ADMIN)
def tiers():
    return render_template(
        "throttling/tiers.html",
        tiers=services.all_tiers(),
        pending=len(services.pending_requests()),
    )


@bp.route("/admin/api-tiers/<int:tier_id>", methods=["GET", "POST"])
@require_role(Role.PROCUREMENT_ADMIN)
def edit_tier(tier_id: int):
    tier = db.session.get(Tier, tier_id) or abort(404)
    form = TierForm(obj=tier)
    if form.validate_on_submit():
        try:
            with refusable():
                services.update_tier(
                    tier, form.values(), make_default=form.is_default.data, actor=current_user
                )
        except services.ThrottlingError as error:
            flash(str(error), "error")
        else:
            flash(
                f"{tier.name} saved; its clients get the new limits on their next request.",
                "success",
            )
            return redirect(url_for("throttling.tiers"))
    return render_template("throttling/tier_edit.html", tier=tier, form=form)


# -- procurement admins: tier requests ----------------------------------------------------


@bp.get("/admin/api-tier-requests")
@require_role(Role.PROCUREMENT_ADMIN)
def tier_requests():
    return render_template(
        "throttling/requests.html",
        pending=services.pending_requests(),
        decided=services.decided_requests(),
        form=DecisionForm(),
    )


@bp.post("/admin/api-tier-requests/<int:request_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def decide_tier_request(request_id: int):
    tier_request = db.session.get(TierRequest, request_id) or abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    decide = (
        services.approve_request if form.decision.data == "approve" else services.reject_request
    )
    try:
        with refusable():
            decide(tier_request, note=form.note.data or "", actor=current_user)
    except services.ThrottlingError as error:
        flash(str(error), "error")
    else:
        flash(
            f"{tier_request.organization.name}: {tier_request.requested_tier.name} "
            f"{tier_request.state.value.lower()}.",
            "success",
        )
    return redirect(url_for("throttling.tier_requests"))


# -- procurement admins: assignments and overrides ----------------------------------------


@bp.get("/admin/api-tier-assignments")
@require_role(Role.PROCUREMENT_ADMIN)
def assignments():
    orgs = db.session.scalars(
        select(Organization).where(Organization.kind.in_(API_ORG_KINDS)).order_by(Organization.name)
    ).all()
    rows = [(org, services.organization_tier(org.id)) for org in orgs]
    return render_template(
        "throttling/assignments.html", rows=rows, default=services.default_tier()
    )


def _api_organization(org_id: int) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None or org.kind not in API_ORG_KINDS:
        abort(404)
    return org


def _assignment_page(org: Organization, tier_form=None, override_form=None):
    tiers = services.all_tiers()
    current = services.organization_tier(org.id)
    tier_form = tier_form or with_tier_choices(TierChoiceForm(tier=current.id), tiers)
    override_form = override_form or with_tier_choices(OverrideForm(), tiers)
    return render_template(
        "throttling/assignment.html",
        org=org,
        current=current,
        overrides=services.overrides_of(org.id),
        tier_form=tier_form,
        override_form=override_form,
        remove_form=FlaskForm(),
    )


@bp.get("/admin/api-tier-assignments/<int:org_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def assignment(org_id: int):
    return _assignment_page(_api_organization(org_id))


@bp.post("/admin/api-tier-assignments/<int:org_id>")
@require_role(Role.PROCUREMENT_ADMIN)
def assign(org_id: int):
    org = _api_organization(org_id)
    form = with_tier_choices(TierChoiceForm(), services.all_tiers())
    if not form.validate_on_submit():
        return _assignment_page(org, tier_form=form), 400
    tier = db.session.get(Tier, form.tier.data) or abort(404)
    services.assign_tier(org, tier, actor=current_user)
    flash(f"{org.name} is now on {tier.name}.", "success")
    return redirect(url_for("throttling.assignment", org_id=org.id))


@bp.post("/admin/api-tier-assignments/<int:org_id>/overrides")
@require_role(Role.PROCUREMENT_ADMIN)
def add_override(org_id: int):
    org = _api_organization(org_id)
    form = with_tier_choices(OverrideForm(), services.all_tiers())
    if not form.validate_on_submit():
        return _assignment_page(org, override_form=form), 400
    tier = db.session.get(Tier, form.tier.data) or abort(404)
    try:
        with refusable():
            services.set_client_override(org, form.api_client_id.data, tier, actor=current_user)
    except services.ThrottlingError as error:
        flash(str(error), "error")
    else:
        flash(f"API client {form.api_client_id.data} is now on {tier.name}.", "success")
    return redirect(url_for("throttling.assignment", org_id=org.id))


@bp.post("/admin/api-tier-assignments/<int:org_id>/overrides/<int:override_id>/delete")
@require_role(Role.PROCUREMENT_ADMIN)
def remove_override(org_id: int, override_id: int):
    org = _api_organization(org_id)
    override = db.session.get(ClientTierOverride, override_id)
    if override is None or override.organization_id != org.id:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    services.remove_client_override(override, actor=current_user)
    flash(f"API client {override.api_client_id} follows {org.name}'s tier again.", "success")
    return redirect(url_for("throttling.assignment", org_id=org.id))
