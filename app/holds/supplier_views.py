"""The supplier's side of a question finance asked about an invoice: read it on the document's
page (app/templates/holds/_supplier_question.html) and answer it. Scoped to the supplier's own
organization; internal comments are never read here."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.db import db, refusable
from app.documents.models import Document
from app.documents.queries import visible_document
from app.holds import services
from app.holds.forms import AnswerForm
from app.holds.models import Question
from app.orgs.roles import SUPPLIER_ROLES

bp = Blueprint("holds_supplier", __name__)


def _visible(document_id: int) -> Document:
    org = current_user.organization
    document = visible_document(document_id, org.id) if org is not None else None
    if document is None:
        abort(404, "No such document.")
    return document


@bp.app_template_global()
def supplier_questions(document: Document) -> list[Question]:
    """The questions finance asked about `document`, for its sender's page (the page already
    checked the document is the reader's to see; checked again here)."""
    if not current_user.is_authenticated or current_user.organization is None:
        return []
    if visible_document(document.id, current_user.organization.id) is None:
        return []
    query = select(Question).where(Question.document_id == document.id)
    return list(db.session.scalars(query.order_by(Question.asked_at)))


@bp.app_template_global()
def answer_form() -> AnswerForm:
    return AnswerForm()


@bp.post("/documents/<int:document_id>/questions/<int:question_id>/answer")
@require_role(*SUPPLIER_ROLES)
def answer(document_id: int, question_id: int) -> Response:
    document = _visible(document_id)
    question = db.session.get(Question, question_id)
    if question is None or question.document_id != document.id:
        abort(404, "No such question.")
    form = AnswerForm()
    if not form.validate_on_submit():
        flash("Write your answer.", "error")
    else:
        try:
            with refusable():
                services.answer(question, current_user, form.answer.data)
        except services.HoldActionError as error:
            flash(str(error), "error")
        else:
            flash("Thank you: your answer is with the hospital's accounts payable team.", "success")
    return redirect(url_for("intake.document", document_id=document.id))
