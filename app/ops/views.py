"""Health endpoints for orchestrators, and the ops pages: the pipeline console, queues, the
document finder, system health, the audit log, and `/metrics` for Prometheus."""

from __future__ import annotations

import ipaddress

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.accounts.access import require_role
from app.audit.services import verify_chain
from app.db import db, utcnow
from app.documents.models import Document
from app.ops import audit_view, charts, console, erp_calls, finder, health, metrics, queues
from app.orgs.roles import Role

bp = Blueprint("ops", __name__)


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


@bp.get("/ops")
@require_role(Role.OPS)
def console_page():
    sla = console.parse_sla(current_app.config["OPS_SLA_MINUTES"])
    figures = console.console(utcnow(), sla)
    sparks = {stage.state: charts.spark(stage.hourly_entries) for stage in figures.stages}
    return render_template(
        "ops/console.html",
        console=figures,
        sparks=sparks,
        queues=queues.fresh_snapshot(),
        checks=health.run_checks(),
        live=console.live(utcnow()),
        slow_ms=int(erp_calls.SLOW_MS),
        now_window=console.NOW,
    )


@bp.get("/ops/queues")
@require_role(Role.OPS)
def queues_page():
    return render_template("ops/queues.html", snapshot=queues.fresh_snapshot())


@bp.get("/ops/documents")
@require_role(Role.OPS)
def find_document():
    query = request.args.get("q", "").strip()
    found = finder.find(query)
    if len(found) == 1:
        return redirect(url_for("ops.document_trail", document_id=found[0].id))
    return render_template("ops/find.html", query=query, found=found)


@bp.get("/ops/documents/<int:document_id>")
@require_role(Role.OPS)
def document_trail(document_id: int):
    document = db.session.get(Document, document_id) or abort(404)
    return render_template("ops/document.html", trail=finder.trail(document), view=erp_calls)


@bp.get("/ops/audit")
@require_role(Role.OPS, Role.PROCUREMENT_ADMIN, Role.FINANCE_MANAGER)
def audit_log():
    filters = audit_view.AuditFilters.from_args(request.args)
    entries = db.session.scalars(audit_view.query(filters)).all()
    has_more = len(entries) > audit_view.PAGE_SIZE
    entries = entries[: audit_view.PAGE_SIZE]
    chain = verify_chain() if request.args.get("verify") else None
    return render_template(
        "ops/audit.html",
        entries=entries,
        has_more=has_more,
        filters=filters,
        chain=chain,
        view=audit_view,
    )


@bp.get("/metrics")
def metrics_page():
    """Prometheus text for ops signed in, or for scrapers in METRICS_ALLOW_CIDRS."""
    if not _may_scrape():
        abort(403, "Metrics are for ops and the monitoring network.")
    return metrics.exposition()


def _may_scrape() -> bool:
    if current_user.is_authenticated and current_user.has_role(Role.OPS):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    text = current_app.config["METRICS_ALLOW_CIDRS"] or ""
    parts = (part.strip() for part in text.split(","))
    return [ipaddress.ip_network(part, strict=False) for part in parts if part]
