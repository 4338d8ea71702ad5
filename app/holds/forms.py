"""The finance queue's action forms (CSRF-protected like every form). Forms that change an
invoice carry the version the page showed (optimistic locking)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.holds.services import CORRECTABLE, REJECT_REASONS


def _reason(label: str, message: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(message), Length(max=2000)])


class VersionedForm(FlaskForm):
    version = IntegerField(validators=[Optional()])


class ReleaseForm(VersionedForm):
    reason = _reason("Why release it", "Say why the hold is released.")


class RejectForm(VersionedForm):
    code = SelectField(
        "Reason code",
        choices=[SelectChoice(code, f"{code}: {text}") for code, text in REJECT_REASONS.items()],
    )
    note = _reason("Note for the supplier", "Write a note for the supplier.")


class AssignForm(VersionedForm):
    # "me", "" (nobody) or a finance user's id; the view fills the choices.
    assignee = SelectField("Assign to", choices=[])


class CorrectForm(VersionedForm):
    field = SelectField("Correct", choices=[SelectChoice(k, v) for k, v in CORRECTABLE.items()])
    line = StringField("Line", validators=[Optional(), Length(max=64)])
    value = StringField(
        "New value", validators=[DataRequired("Give the new value."), Length(max=200)]
    )
    reason = _reason("Why", "Say why you correct it.")


class DisputeForm(VersionedForm):
    line = StringField("Line", validators=[DataRequired("Choose a line."), Length(max=64)])
    reason = _reason("Why (the supplier reads this)", "Say why the line is disputed.")


class AskForm(VersionedForm):
    question = _reason("Question for the supplier", "Write the question.")


class CommentForm(FlaskForm):
    body = _reason("Internal comment (never shown to the supplier)", "Write the comment.")


class AnswerForm(FlaskForm):
    answer = _reason("Your answer", "Write your answer.")


class BulkForm(FlaskForm):
    action = HiddenField()
    assignee = SelectField("Assign to", choices=[], validate_choice=False)
    reason = TextAreaField("Why release them", validators=[Optional(), Length(max=2000)])
