"""Health endpoints for orchestrators, and the ops pages: system health and the audit log."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import select

from app.accounts.access import require_role
from app.audit.models import AuditEntry
from app.audit.services import verify_chain
from app.db import db
from app.ops import health
from app.orgs.roles import Role

bp = Blueprint("ops", __name__)
AUDIT_PAGE_SIZE = 50


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. No dependency is touched."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready: database, Redis and ERP answer. 503 while any is down."""
    checks = health.run_checks()
    body = health.as_json(checks)
    return jsonify(body), 200 if body["status"] == "ready" else 503


@bp.get("/ops/health")
@require_role(Role.OPS)
def health_page():
    return render_template("ops/health.html", checks=health.run_checks())


@bp.get("/ops/audit")
@require_role(Role.OPS, Role.PROCUREMENT_ADMIN, Role.FINANCE_MANAGER)
def audit_log():
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE_SIZE + 1)
    if before := request.args.get("before", type=int):
        query = query.where(AuditEntry.id < before)
    if action := request.args.get("action", "").strip():
        query = query.where(AuditEntry.action.startswith(action))
    entries = db.session.scalars(query).all()
    has_more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    chain = None
    if request.args.get("verify"):
        chain = verify_chain()
    return render_template(
        "ops/audit.html", entries=entries, has_more=has_more, action=action, chain=chain
    )
