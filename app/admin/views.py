"""Staff pages to find organizations and manage users."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.access import require_role
from app.accounts.models import User
from app.db import db, utcnow
from app.orgs.models import Membership, Organization, OrgKind, OrgStatus
from app.orgs.roles import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")
AGE_FILTERS = {"7": 7, "30": 30, "90": 90}


@bp.get("/organizations")
@require_role(Role.PROCUREMENT_ADMIN)
def organizations():
    query = select(Organization).order_by(Organization.name)
    kind, status, age = (request.args.get(k, "") for k in ("kind", "status", "age"))
    if kind in OrgKind._value2member_map_:
        query = query.where(Organization.kind == OrgKind(kind))
    if status in OrgStatus._value2member_map_:
        query = query.where(Organization.status == OrgStatus(status))
    if age in AGE_FILTERS:
        query = query.where(
            Organization.created_at >= utcnow() - dt.timedelta(days=AGE_FILTERS[age])
        )
    orgs = db.session.scalars(query).all()
    return render_template(
        "admin/organizations.html",
        orgs=orgs,
        kinds=OrgKind,
        statuses=OrgStatus,
        filters={"kind": kind, "status": status, "age": age},
    )


@bp.get("/users")
@require_role(Role.PROCUREMENT_ADMIN, Role.OPS)
def users():
    query = select(User).join(Membership).join(Organization).order_by(Organization.name, User.email)
    if q := request.args.get("q", "").strip().lower():
        query = query.where(User.email.contains(q))
    return render_template(
        "admin/users.html", users=db.session.scalars(query).unique().all(), q=q, form=FlaskForm()
    )


@bp.post("/users/<int:user_id>/active")
@require_role(Role.PROCUREMENT_ADMIN, Role.OPS)
def set_user_active(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    if user.id == current_user.id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin.users"))
    active = request.form.get("active") == "1"
    accounts.set_active(user, active, actor=current_user)
    flash(
        f"{user.email} is now {'enabled' if active else 'disabled and signed out everywhere'}.",
        "success",
    )
    return redirect(url_for("admin.users"))
