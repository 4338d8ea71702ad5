"""Forms of the supplier's document pages: upload a file, invoice a purchase order."""

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
