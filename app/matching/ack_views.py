"""The buyer's page for acknowledgments held on a supplier's changes
(/procurement/acknowledgments): each one with its changes line by line, accepted (the
acknowledgment goes on to the ERP) or refused back to the supplier with a note."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.db import refusable
from app.matching import acknowledgments as acks
from app.matching.forms import AckAcceptForm, AckRefuseForm
from app.matching.models import HoldStatus
from app.matching.queries import holds_of
from app.orgs.roles import Role

bp = Blueprint("acknowledgments", __name__, url_prefix="/procurement/acknowledgments")
BUYERS = (Role.PROCUREMENT_ADMIN,)


@bp.get("")
@require_role(*BUYERS)
def index() -> str:
    held = [
        (document, [h for h in holds_of(document.id) if h.status == HoldStatus.OPEN])
        for document in acks.held_acknowledgments()
    ]
    return render_template(
        "matching/acknowledgments.html",
        held=held,
        accept_form=AckAcceptForm(),
        refuse_form=AckRefuseForm(),
    )


def _held(document_id: int):
    return acks.held_acknowledgment(document_id) or abort(404, "No such acknowledgment.")


@bp.post("/<int:document_id>/accept")
@require_role(*BUYERS)
def accept(document_id: int) -> Response | tuple[str, int]:
    document = _held(document_id)
    form = AckAcceptForm()
    if not form.validate_on_submit():
        flash("Say why the changes are accepted.", "error")
        return redirect(url_for(".index"))
    try:
        with refusable():
            acks.accept_changes(document, current_user, form.reason.data)
    except acks.AckDecisionError as error:
        flash(str(error), "error")
    else:
        flash(f"Changes accepted: {document.document_number} goes on to the ERP.", "success")
    return redirect(url_for(".index"))


@bp.post("/<int:document_id>/refuse")
@require_role(*BUYERS)
def refuse(document_id: int) -> Response | tuple[str, int]:
    document = _held(document_id)
    form = AckRefuseForm()
    if not form.validate_on_submit():
        flash("Write a note for the supplier.", "error")
        return redirect(url_for(".index"))
    try:
        with refusable():
            acks.reject_changes(document, current_user, form.note.data)
    except acks.AckDecisionError as error:
        flash(str(error), "error")
    else:
        flash(f"{document.document_number} was sent back to the supplier.", "success")
    return redirect(url_for(".index"))
