"""The tolerance template pages (/finance/tolerances): the global template and the supplier
overrides. Finance managers edit them; finance clerks see them read-only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.db import db, refusable
from app.matching import tolerance_templates as templates
from app.matching.forms import LABELS, LimitsForm, OverrideForm, RemoveForm, plain
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.orgs.roles import Role

bp = Blueprint("tolerances", __name__, url_prefix="/finance/tolerances")
FINANCE = (Role.FINANCE_CLERK, Role.FINANCE_MANAGER)
MANAGER = Role.FINANCE_MANAGER


def _prefilled(form_class, template: templates.ToleranceTemplate | None, **extra):
    """A form holding a template's limits, written plainly (5, not 5.0000)."""
    limits = template.limits() if template is not None else {}
    data = {name: plain(limits.get(name)) for name in templates.LIMITS}
    return form_class(data={**data, **extra})


def _active_suppliers(excluding: set[int]) -> list[tuple[int, str]]:
    query = (
        select(Organization.id, Organization.name)
        .where(Organization.kind == OrgKind.SUPPLIER, Organization.status == OrgStatus.ACTIVE)
        .order_by(Organization.name)
    )
    return [(row.id, row.name) for row in db.session.execute(query) if row.id not in excluding]


def _index_page(global_form=None, override_form=None, status: int = 200):
    current = templates.global_template()
    overrides = templates.overrides()
    if global_form is None:
        global_form = _prefilled(LimitsForm, current)
    if override_form is None:
        override_form = _prefilled(OverrideForm, current)  # start from the global limits
    override_form.supplier_id.choices = [
        (0, "Choose a supplier…"),
        *_active_suppliers({o.organization_id for o in overrides if o.organization_id}),
    ]
    return render_template(
        "matching/tolerances.html",
        current=current,
        overrides=overrides,
        global_form=global_form,
        override_form=override_form,
        remove_form=RemoveForm(),
        limits=templates.LIMITS,
        labels=LABELS,
        can_edit=current_user.has_role(MANAGER),
    ), status


@bp.get("")
@require_role(*FINANCE)
def index() -> tuple[str, int]:
    return _index_page()


@bp.post("/global")
@require_role(MANAGER)
def save_global() -> Response | tuple[str, int]:
    form = LimitsForm()
    if not form.validate_on_submit():
        return _index_page(global_form=form, status=400)
    try:
        with refusable():
            templates.save_global(form.values(), current_user)
    except templates.ToleranceTemplateError as error:
        flash(str(error), "error")
        return _index_page(global_form=form, status=400)
    flash("The global tolerance template was saved.", "success")
    return redirect(url_for(".index"))


@bp.post("/suppliers")
@require_role(MANAGER)
def add_override() -> Response | tuple[str, int]:
    form = OverrideForm()
    form.supplier_id.choices = [(0, ""), *_active_suppliers(set())]
    if not form.validate_on_submit():
        return _index_page(override_form=form, status=400)
    supplier = db.session.get(Organization, form.supplier_id.data) or abort(404)
    try:
        with refusable():
            templates.save_override(supplier, form.values(), current_user)
    except templates.ToleranceTemplateError as error:
        flash(str(error), "error")
        return _index_page(override_form=form, status=400)
    flash(f"{supplier.name} now has its own tolerance template.", "success")
    return redirect(url_for(".index"))


def _override(supplier_id: int) -> templates.ToleranceTemplate:
    template = templates.override_of(supplier_id)
    if template is None:
        abort(404, "This supplier has no tolerance override.")
    return template


def _override_page(template: templates.ToleranceTemplate, form, status: int = 200):
    return render_template(
        "matching/tolerance_override.html",
        template=template,
        form=form,
        remove_form=RemoveForm(),
        limits=templates.LIMITS,
        labels=LABELS,
    ), status


@bp.get("/suppliers/<int:supplier_id>")
@require_role(MANAGER)
def edit_override(supplier_id: int) -> tuple[str, int]:
    template = _override(supplier_id)
    return _override_page(template, _prefilled(LimitsForm, template))


@bp.post("/suppliers/<int:supplier_id>")
@require_role(MANAGER)
def save_override(supplier_id: int) -> Response | tuple[str, int]:
    template = _override(supplier_id)
    form = LimitsForm()
    if not form.validate_on_submit():
        return _override_page(template, form, 400)
    supplier = template.organization or abort(404)
    try:
        with refusable():
            templates.save_override(supplier, form.values(), current_user)
    except templates.ToleranceTemplateError as error:
        flash(str(error), "error")
        return _override_page(template, form, 400)
    flash(f"{supplier.name}'s tolerance template was saved.", "success")
    return redirect(url_for(".index"))


@bp.post("/suppliers/<int:supplier_id>/remove")
@require_role(MANAGER)
def remove_override(supplier_id: int) -> Response:
    template = _override(supplier_id)
    supplier = template.organization or abort(404)
    if not RemoveForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        with refusable():
            templates.remove_override(supplier, current_user)
    except templates.ToleranceTemplateError as error:
        flash(str(error), "error")
    else:
        flash(f"{supplier.name} uses the global tolerance template again.", "success")
    return redirect(url_for(".index"))
