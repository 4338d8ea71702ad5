"""The supplier's side of a question finance asked about an invoice: its lists, PO page and
document page say the invoice needs the supplier's answer (a situation of app.intake.words), the
document's page (app/templates/holds/_supplier_question.html) shows the question and takes the
answer (an API client answers through app.holds.answers). Scoped to the supplier's own
organization; internal comments are never read here."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, has_request_context, redirect, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.db import db, refusable
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.queries import visible_document
from app.holds import answers, services
from app.holds.forms import AnswerForm
from app.holds.models import Question
from app.intake.words import situation
from app.orgs.roles import SUPPLIER_ROLES

bp = Blueprint("holds_supplier", __name__)


def waiting_question(document: Document) -> Question | None:
    """The oldest unanswered question about a held invoice, None for any other document.
    Questions are asked only while an invoice is held (holds.services.ask), and a list shows
    several documents per page: read once per document and request."""
    if document.kind != DocumentKind.INVOICE or document.state != DocumentState.ON_HOLD:
        return None
    cache: dict[int, Question | None] = (
        g.setdefault("waiting_questions", {}) if has_request_context() else {}
    )
    if document.id not in cache:
        query = select(Question).where(
            Question.document_id == document.id, Question.answered_at.is_(None)
        )
        cache[document.id] = db.session.scalars(query.order_by(Question.id).limit(1)).first()
    return cache[document.id]


@situation
def needs_your_answer(document: Document) -> tuple[str, str] | None:
    """A held invoice with a question the supplier has not answered: it waits on the supplier,
    not on finance, so "in review" would mislead."""
    question = waiting_question(document)
    if question is None:
        return None
    asked = question.asked_at.date().isoformat()
    return (
        "needs your answer",
        f"Needs your answer: the hospital's accounts payable team asked you a question about "
        f"this invoice on {asked} (below). It stays in review until you answer.",
    )


@bp.app_template_filter("answer_href")
def answer_href(document: Document) -> str | None:
    """Where the supplier answers the document's open question; None when there is none."""
    if waiting_question(document) is None:
        return None
    return url_for("intake.document", document_id=document.id, _anchor="questions")


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
    return answers.questions_of(document.id)


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
