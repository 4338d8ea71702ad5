"""Onboarding forms (Flask-WTF: every form carries a CSRF token).

Step forms accept blanks, because every step is saved as a draft; completeness is checked at
submission. Formats (emails, URLs, tax ids, bank details) are checked at every save.
"""

from __future__ import annotations

from functools import cache

import pycountry  # installed with schwifty, which uses it for its own country data
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Form,
    FormField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.oauth.scopes import SCOPES
from app.onboarding import rules
from app.onboarding.models import DOCUMENT_LABELS, SupportingDocumentKind
from app.orgs.models import ConnectionScope


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


CURRENCIES = choices(
    (("USD", "US dollar"), ("EUR", "Euro"), ("GBP", "Pound sterling"), ("CAD", "Canadian dollar"))
)
KIND_CHOICES = choices((("supplier", "Supplier"), ("partner", "SaaS partner (supplier network)")))
DOCUMENT_TYPE_LABELS = {
    ConnectionScope.INVOICES: "Invoices",
    ConnectionScope.ACKNOWLEDGMENTS: "PO acknowledgments",
    ConnectionScope.PURCHASE_ORDERS: "Purchase order reads",
}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _lower(value):
    return value.strip().lower() if isinstance(value, str) else value


@cache
def country_choices() -> list[SelectChoice]:
    countries = sorted(pycountry.countries, key=lambda c: c.name)
    return choices([("", "Choose a country"), *((c.alpha_2, c.name) for c in countries)])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _text(label: str, max_length: int = 200, **kwargs) -> StringField:
    return StringField(
        label, validators=[Optional(), Length(max=max_length)], filters=[_strip], **kwargs
    )


# -- entry -------------------------------------------------------------------------------------


class RegisterForm(FlaskForm):
    company_name = StringField(
        "Company legal name", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    kind = RadioField(
        "We are a", choices=KIND_CHOICES, default="supplier", validators=[DataRequired()]
    )
    contact_name = StringField(
        "Your name", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    email = EmailField(
        "Your work email", validators=[DataRequired(), Email(), Length(max=254)], filters=[_lower]
    )


class InviteForm(RegisterForm):
    kind = RadioField(
        "Organization kind", choices=KIND_CHOICES, default="supplier", validators=[DataRequired()]
    )
    contact_name = StringField(
        "Contact name", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    email = EmailField(
        "Contact email", validators=[DataRequired(), Email(), Length(max=254)], filters=[_lower]
    )


class EnrollForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)], filters=[_strip])
    password = PasswordField(
        "Choose a password (at least 12 characters)", validators=[DataRequired(), Length(max=1024)]
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", "The passwords differ.")],
    )


# -- profile steps -----------------------------------------------------------------------------


class CompanyForm(FlaskForm):
    name = StringField("Legal name", validators=[DataRequired(), Length(max=200)], filters=[_strip])
    trading_name = _text("Trading name (if different)")
    country = SelectField(
        "Country of registration", choices=country_choices, validators=[Optional()]
    )
    duns = _text("D-U-N-S number (optional)", 11)


class TaxForm(FlaskForm):
    tax_id = _text(
        "Tax ID",
        32,
        description="US: EIN · EU: VAT number · UK: VAT number · Canada: Business Number",
    )


class AddressForm(Form):
    street = _text("Street", 300)
    city = _text("City", 100)
    region = _text("State / region", 100)
    postal_code = _text("Postal code", 20)
    country = SelectField("Country", choices=country_choices, validators=[Optional()])


class AddressesForm(FlaskForm):
    ordering = FormField(AddressForm, "Ordering address (where purchase orders go)")
    remit = FormField(AddressForm, "Remit-to address (where payments are sent)")


class ContactForm(Form):
    name = _text("Name")
    email = EmailField("Email", validators=[Optional(), Email(), Length(max=254)], filters=[_lower])
    phone = _text("Phone", 40)


class SupplierContactsForm(FlaskForm):
    primary = FormField(ContactForm, "Primary contact")
    accounts_receivable = FormField(ContactForm, "Accounts receivable contact")


class PartnerContactsForm(FlaskForm):
    technical = FormField(ContactForm, "Technical contact")
    security = FormField(ContactForm, "Security contact")


class PaymentForm(FlaskForm):
    currency = SelectField("Invoice currency", choices=CURRENCIES, default="USD")
    accept_terms = BooleanField("I accept the hospital's payment terms")


class BankForm(FlaskForm):
    account_holder = StringField(
        "Account holder", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    bank_name = StringField(
        "Bank name", validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    scheme = RadioField(
        "Account type",
        choices=choices(
            (("IBAN", "IBAN and BIC"), ("US_ABA", "US routing number and account number"))
        ),
        default="US_ABA",
        validators=[DataRequired()],
    )
    iban = _text("IBAN", 42)
    bic = _text("BIC (SWIFT code)", 11)
    routing_number = _text("Routing number (ABA)", 11)
    account_number = _text("Account number", 20)


class DocumentForm(FlaskForm):
    kind = SelectField(
        "Document",
        choices=choices((k.value, DOCUMENT_LABELS[k]) for k in SupportingDocumentKind),
        validators=[DataRequired()],
    )
    file = FileField("File (PDF, PNG or JPEG)", validators=[FileRequired("File is required.")])
    expires_on = DateField("Expiry date (certificates of insurance)", validators=[Optional()])


class PlatformForm(FlaskForm):
    platform_description = TextAreaField(
        "Platform description", validators=[Optional(), Length(max=4000)], filters=[_strip]
    )
    scopes_wanted = MultiCheckboxField("API scopes wanted", choices=choices((s, s) for s in SCOPES))
    tier_wanted = _text("Throttling tier wanted", 64)
    webhook_url = _text("Webhook endpoint (https)", 500)


class SecurityForm(FlaskForm):
    hosting_region = _text("Where is our data hosted? (region / country)")
    encryption_at_rest = _text("How is data encrypted at rest?", 500)
    encryption_in_transit = _text("How is data encrypted in transit?", 500)
    incident_contact = _text("Security incident contact (email or phone, 24/7)")


class SubmitForm(FlaskForm):
    """Submitting the profile is a POST with a CSRF token."""


# -- bank changes and connections --------------------------------------------------------------


class ConnectionForm(FlaskForm):
    partner_id = SelectField("Partner", coerce=int, validators=[DataRequired()])
    document_types = MultiCheckboxField(
        "May act for us on",
        choices=choices((t.value, DOCUMENT_TYPE_LABELS[t]) for t in ConnectionScope),
        validators=[DataRequired("Choose at least one document type.")],
    )


class ConfirmForm(FlaskForm):
    """A bare POST (revoke, approve a bank change): only the CSRF token."""


# -- review ------------------------------------------------------------------------------------


class ApproveForm(FlaskForm):
    scopes = MultiCheckboxField("API scopes approved", choices=choices((s, s) for s in SCOPES))


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(), Length(max=4000)], filters=[_strip]
    )


class ChangesForm(FlaskForm):
    """One comment box per section; only the organization kind's sections are shown."""


# Supplier and partner sections share some keys ("company", "contacts"); the page labels each
# box with the organization kind's own section title.
for _key in dict.fromkeys(s.key for s in (*rules.SUPPLIER_SECTIONS, *rules.PARTNER_SECTIONS)):
    setattr(
        ChangesForm,
        _key,
        TextAreaField(_key, validators=[Optional(), Length(max=4000)], filters=[_strip]),
    )
