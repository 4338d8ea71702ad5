"""Ops pages for posting: the dead letters (replay one or many, with a reason) and the ERP
link (breaker state and history, the reconciler's last run)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.orgs.roles import Role
from app.posting import breaker, queries, reconciler
from app.posting.forms import ReplayForm
from app.posting.replay import replay

bp = Blueprint("posting", __name__, url_prefix="/ops")
HISTORY_ROWS = 50


@bp.get("/dead-letters")
@require_role(Role.OPS)
def dead_letters() -> str:
    return _dead_letters_page(ReplayForm())


def _dead_letters_page(form: ReplayForm) -> str:
    return render_template(
        "posting/dead_letters.html",
        letters=queries.dead_letters(),
        replays=queries.recent_replays(),
        form=form,
    )


@bp.post("/dead-letters/replay")
@require_role(Role.OPS)
def replay_dead() -> Response | tuple[str, int]:
    form = ReplayForm()
    ids = [int(value) for value in request.form.getlist("document_ids") if value.isdigit()]
    if not form.validate_on_submit() or not ids:
        if not ids:
            flash("Select at least one invoice to replay.", "error")
        return _dead_letters_page(form), 400
    replayed = replay(ids, actor=current_user, reason=form.reason.data or "")
    flash(f"Replayed {len(replayed)} invoice(s): {', '.join(map(str, replayed)) or 'none'}.")
    return redirect(url_for("posting.dead_letters"))


@bp.get("/erp")
@require_role(Role.OPS)
def erp() -> str:
    return render_template(
        "posting/erp.html",
        states=breaker.current_states(),
        history=breaker.history(HISTORY_ROWS),
        run=reconciler.last_run(),
    )
