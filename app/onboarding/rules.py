"""Pure onboarding rules: tax ids, bank details, file types, names, states, sections, scopes.

Nothing here touches Flask, the session or Redis, so each rule is tested on its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import exceptions as stdnum_errors
from stdnum.ca import bn as ca_bn
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.us import ein as us_ein
from stdnum.us import rtn as us_rtn
from stdnum.util import get_cc_module

from app.onboarding.models import SupportingDocumentKind
from app.orgs.models import OrgKind, OrgStatus

# -- states ------------------------------------------------------------------------------------

TRANSITIONS: dict[OrgStatus, frozenset[OrgStatus]] = {
    OrgStatus.DRAFT: frozenset({OrgStatus.SUBMITTED}),
    OrgStatus.SUBMITTED: frozenset(
        {OrgStatus.APPROVED, OrgStatus.REJECTED, OrgStatus.CHANGES_REQUESTED}
    ),
    OrgStatus.CHANGES_REQUESTED: frozenset({OrgStatus.SUBMITTED}),
    OrgStatus.APPROVED: frozenset({OrgStatus.ACTIVE}),
    OrgStatus.ACTIVE: frozenset({OrgStatus.SUSPENDED}),
    OrgStatus.SUSPENDED: frozenset({OrgStatus.ACTIVE}),
    OrgStatus.REJECTED: frozenset(),
}
EDITABLE_STATES = frozenset({OrgStatus.DRAFT, OrgStatus.CHANGES_REQUESTED})
# Documents can be renewed (a new certificate of insurance) once the organization is live.
UPLOAD_STATES = EDITABLE_STATES | {OrgStatus.ACTIVE, OrgStatus.SUSPENDED}
# Why a supplier is suspended when the certificate check suspends it: a new certificate of
# insurance makes it active again, other suspensions stay.
CERTIFICATE_EXPIRED = "certificate_expired"


def can_transition(current: OrgStatus, target: OrgStatus) -> bool:
    return target in TRANSITIONS[current]


# -- the profile's sections (wizard steps, and what reviewers comment on) ----------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str


SUPPLIER_SECTIONS = (
    Section("company", "Company"),
    Section("tax", "Tax identification"),
    Section("addresses", "Addresses"),
    Section("contacts", "Contacts"),
    Section("payment", "Payment terms"),
    Section("bank", "Bank account"),
    Section("documents", "Documents"),
)
PARTNER_SECTIONS = (
    Section("company", "Company"),
    Section("contacts", "Technical and security contacts"),
    Section("platform", "Platform and API access"),
    Section("security", "Security questionnaire"),
)


def sections_for(kind: OrgKind) -> tuple[Section, ...]:
    return PARTNER_SECTIONS if kind == OrgKind.PARTNER else SUPPLIER_SECTIONS


def section_keys(kind: OrgKind) -> tuple[str, ...]:
    return tuple(s.key for s in sections_for(kind))


# -- tax ids -----------------------------------------------------------------------------------


class FieldError(ValueError):
    """A value refused for a named form field; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TaxId:
    value: str  # formatted the way the country writes it
    scheme: str  # e.g. "us.ein", "eu.vat"
    validated: bool  # False when python-stdnum has no validator for the country


EU_VAT_COUNTRIES = frozenset(c.upper() for c in eu_vat.MEMBER_STATES) - {"XI"}
_TAX_LABELS = {
    "us.ein": "US EIN",
    "eu.vat": "EU VAT number",
    "gb.vat": "UK VAT number",
    "ca.bn": "Canadian Business Number",
}


def _stdnum_message(exc: stdnum_errors.ValidationError) -> str:
    return str(exc).rstrip(".").lower()


def _eu_vat(country: str, value: str) -> TaxId:
    prefix = "EL" if country == "GR" else country
    compact = eu_vat.compact(value if value[:2].isalpha() else prefix + value)
    if compact[:2] != prefix:
        raise FieldError(
            "tax_id",
            f"Tax ID is a VAT number of {compact[:2]}, not of the company's country {country}.",
        )
    return TaxId(eu_vat.validate(compact), "eu.vat", True)


def validate_tax_id(country: str, value: str) -> TaxId:
    """Validate a tax id for its country with python-stdnum; FieldError names the field."""
    country, value = country.upper(), value.strip()
    if not value:
        raise FieldError("tax_id", "Tax ID is required.")
    try:
        return _validated_tax_id(country, value)
    except stdnum_errors.ValidationError as exc:
        label = _TAX_LABELS.get(_scheme_for(country), f"tax ID for {country}")
        raise FieldError(
            "tax_id", f"Tax ID is not a valid {label}: {_stdnum_message(exc)}."
        ) from None


def _scheme_for(country: str) -> str:
    if country in EU_VAT_COUNTRIES:
        return "eu.vat"
    return {"US": "us.ein", "GB": "gb.vat", "CA": "ca.bn"}.get(country, "other")


def _validated_tax_id(country: str, value: str) -> TaxId:
    scheme = _scheme_for(country)
    if scheme == "us.ein":
        return TaxId(us_ein.format(us_ein.validate(value)), scheme, True)
    if scheme == "gb.vat":
        return TaxId("GB" + gb_vat.validate(value), scheme, True)
    if scheme == "ca.bn":
        return TaxId(ca_bn.validate(value), scheme, True)
    if scheme == "eu.vat":
        return _eu_vat(country, value)
    return _other_tax_id(country, value)


def _other_tax_id(country: str, value: str) -> TaxId:
    """Countries beyond the required ones: use stdnum's module when it has one."""
    for name in ("vat", "tin"):
        module = get_cc_module(country.lower(), name)
        if module is not None:
            return TaxId(module.validate(value), f"{country.lower()}.{name}", True)
    if not re.fullmatch(r"[A-Za-z0-9 .\-/]{4,32}", value):
        raise FieldError("tax_id", "Tax ID must be 4 to 32 letters, digits, spaces or . - /.")
    return TaxId(value, "unvalidated", False)


def tax_key(value: str) -> str:
    """Letters and digits only, upper case: how tax ids are compared (as the ERP does)."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def validate_duns(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{9}", digits):
        raise FieldError("duns", "D-U-N-S number must be 9 digits.")
    return digits


# -- bank details ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankDetails:
    scheme: str  # "IBAN" or "US_ABA"
    iban: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None


def _schwifty_message(exc: SchwiftyException) -> str:
    text = str(exc).rstrip(".")
    return text[0].lower() + text[1:] if text else "invalid"


def validate_iban(value: str) -> IBAN:
    if not value.strip():
        raise FieldError("iban", "IBAN is required.")
    try:
        return IBAN(value)
    except SchwiftyException as exc:
        raise FieldError("iban", f"IBAN is not valid: {_schwifty_message(exc)}.") from None


def validate_bic(value: str, iban: IBAN | None = None) -> BIC:
    if not value.strip():
        raise FieldError("bic", "BIC is required.")
    try:
        bic = BIC(value)
    except SchwiftyException as exc:
        raise FieldError("bic", f"BIC is not valid: {_schwifty_message(exc)}.") from None
    if iban is not None and bic.country_code != iban.country_code:
        raise FieldError(
            "bic",
            f"BIC belongs to a bank in {bic.country_code}, but the IBAN is in {iban.country_code}.",
        )
    return bic


def validate_routing_number(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not digits:
        raise FieldError("routing_number", "Routing number is required.")
    try:
        return us_rtn.validate(digits)
    except stdnum_errors.ValidationError as exc:
        raise FieldError(
            "routing_number", f"Routing number is not a valid ABA number: {_stdnum_message(exc)}."
        ) from None


def validate_account_number(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{4,17}", digits):
        raise FieldError("account_number", "Account number must be 4 to 17 digits.")
    return digits


def validate_bank(
    scheme: str, *, iban: str = "", bic: str = "", routing: str = "", account: str = ""
) -> BankDetails:
    """Validate the fields of one scheme; the first problem found is raised as a FieldError."""
    if scheme == "IBAN":
        checked_iban = validate_iban(iban)
        checked_bic = validate_bic(bic, checked_iban)
        return BankDetails("IBAN", iban=checked_iban.compact, bic=checked_bic.compact)
    if scheme == "US_ABA":
        return BankDetails(
            "US_ABA",
            routing_number=validate_routing_number(routing),
            account_number=validate_account_number(account),
        )
    raise FieldError("scheme", "Account type must be IBAN or US routing and account number.")


# -- uploaded files ----------------------------------------------------------------------------

# Three fixed signatures; a libmagic binding would add a system library for no gain here.
FILE_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def sniff_content_type(head: bytes) -> str | None:
    """The file's real type from its first bytes, whatever its name or declared type says."""
    for signature, content_type in FILE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def required_documents(country: str | None) -> tuple[SupportingDocumentKind, ...]:
    """US companies file a W-9, everyone else a W-8; all need insurance and a bank letter."""
    tax_form = (
        SupportingDocumentKind.W9 if (country or "").upper() == "US" else SupportingDocumentKind.W8
    )
    return (tax_form, SupportingDocumentKind.INSURANCE, SupportingDocumentKind.BANK_LETTER)


# -- names, for screening ----------------------------------------------------------------------

# fmt: off
_LEGAL_FORMS = frozenset((
    "INC", "INCORPORATED", "LLC", "LLP", "LP", "LTD", "LIMITED", "CORP", "CORPORATION", "CO",
    "COMPANY", "PC", "PA", "PLLC", "PLC", "GMBH", "AG", "BV", "NV", "SA", "SAS", "SARL", "SRL",
    "SPA", "THE", "DBA",
))
# fmt: on


def name_key(name: str) -> str:
    """Upper case, accents and punctuation dropped, legal forms removed: 'Acme, Inc.' = 'ACME'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^A-Z0-9]+", " ", ascii_name.upper().replace("&", " AND ")).split()
    # "L.L.C." becomes "L L C": join runs of single letters back into one word first.
    joined = re.sub(r"\b([A-Z]) (?=[A-Z]\b)", r"\1", " ".join(words)).split()
    kept = [w for w in joined if w not in _LEGAL_FORMS]
    return " ".join(kept or joined)


def https_url_problem(url: str) -> str | None:
    """Why a webhook URL is refused, or None."""
    if not re.match(r"^https://[^/\s?#]+\.[^/\s?#]+", url, flags=re.IGNORECASE):
        return "Webhook endpoint must be an https:// URL with a host name."
    return None
