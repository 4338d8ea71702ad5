"""Forms of the supplier's document pages: upload a file, invoice or acknowledge a purchase
order, correct or credit a rejected invoice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

KINDS = [
    SelectChoice("invoice", "Invoice or credit note"),
    SelectChoice("acknowledgment", "PO acknowledgment"),
]


class UploadForm(FlaskForm):
    kind = SelectField("What the file contains", choices=KINDS, default="invoice")
    file = FileField(
        "File (UBL or cXML XML, X12, CSV or canonical JSON)",
        validators=[FileRequired("Choose a file to send.")],
    )


class FlipLineForm(Form):
    """One PO line; nested in FlipForm, whose CSRF token covers it."""

    po_line = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    include = BooleanField("Invoice this line", default=True)
    quantity = DecimalField("Quantity", places=None, validators=[Optional(), NumberRange(min=0)])
    unit_price = DecimalField(
        "Unit price", places=None, validators=[Optional(), NumberRange(min=0)]
    )


class FlipForm(FlaskForm):
    invoice_number = StringField(
        "Your invoice number", validators=[DataRequired(), Length(max=200)]
    )
    issue_date = DateField("Invoice date", default=dt.date.today, validators=[DataRequired()])
    tax_total = DecimalField(
        "Tax total", places=None, default=Decimal(0), validators=[Optional(), NumberRange(min=0)]
    )
    note = TextAreaField("Note to accounts payable", validators=[Optional(), Length(max=2000)])
    lines = FieldList(FormField(FlipLineForm))


ANSWERS = [
    SelectChoice("accept", "Accept"),
    SelectChoice("change", "Change"),
    SelectChoice("reject", "Reject"),
]


class AckLineForm(Form):
    """One PO line's answer; nested in AckForm, whose CSRF token covers it."""

    po_line = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    answer = SelectField("Answer", choices=ANSWERS, default="accept")
    quantity = DecimalField("Quantity", places=None, validators=[Optional(), NumberRange(min=0)])
    unit_price = DecimalField(
        "Unit price", places=None, validators=[Optional(), NumberRange(min=0)]
    )
    delivery_date = DateField("Delivery date", validators=[Optional()])
    reason = StringField("Why (for a change or a rejection)", validators=[Length(max=500)])


class AckForm(FlaskForm):
    """Accept, change or reject the lines of a purchase order (an acknowledgment)."""

    ack_number = StringField(
        "Your acknowledgment number", validators=[DataRequired(), Length(max=200)]
    )
    note = TextAreaField("Note to the buyer", validators=[Optional(), Length(max=2000)])
    lines = FieldList(FormField(AckLineForm))


DOCUMENT_TYPES = [
    SelectChoice("invoice", "Corrected invoice"),
    SelectChoice("credit_note", "Credit note"),
]


class CorrectionLineForm(Form):
    """One line of the rejected invoice; nested in CorrectionForm."""

    line_id = StringField(widget=HiddenInput(), validators=[InputRequired(), Length(max=200)])
    quantity = DecimalField(
        "Quantity", places=None, validators=[InputRequired(), NumberRange(min=0)]
    )
    unit_price = DecimalField(
        "Unit price", places=None, validators=[InputRequired(), NumberRange(min=0)]
    )


class CorrectionForm(FlaskForm):
    """A corrected invoice or a credit note for a rejected invoice, prefilled from it."""

    document_type = SelectField("Send", choices=DOCUMENT_TYPES, default="invoice")
    invoice_number = StringField(
        "Number of the new document", validators=[DataRequired(), Length(max=200)]
    )
    issue_date = DateField("Date", default=dt.date.today, validators=[DataRequired()])
    tax_total = DecimalField(
        "Tax total", places=None, default=Decimal(0), validators=[Optional(), NumberRange(min=0)]
    )
    note = TextAreaField("Note to accounts payable", validators=[Optional(), Length(max=2000)])
    lines = FieldList(FormField(CorrectionLineForm))
