"""The profile wizard's steps: for each section, its form, what it shows and how it saves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm

from app.oauth.scopes import SCOPES
from app.onboarding import banking, forms, profile, rules
from app.onboarding.enrollment import organization_name_taken
from app.onboarding.errors import FieldError
from app.onboarding.profile import draft_bank_account, profile_of
from app.orgs.models import Organization, OrgKind

DEFAULT_PAYMENT_TERMS = "Net 60"


def payment_terms() -> str:
    return current_app.config.get("ONBOARDING_PAYMENT_TERMS") or DEFAULT_PAYMENT_TERMS


@dataclass(frozen=True)
class Step:
    form: Callable[..., FlaskForm]
    load: Callable[[Organization], dict[str, Any]]
    save: Callable[[Organization, Any, Any], None]


# -- company -----------------------------------------------------------------------------------


def _load_company(org: Organization) -> dict[str, Any]:
    p = profile_of(org)
    return {
        "name": org.name,
        "trading_name": p.trading_name,
        "country": org.country,
        "duns": p.duns,
    }


def _save_company(org: Organization, form, actor) -> None:
    name = form.name.data
    if name.lower() != org.name.lower() and organization_name_taken(name):
        raise FieldError(
            "name", "Legal name is already used by another organization in the portal."
        )
    duns = rules.validate_duns(form.duns.data) if form.duns.data else None
    values = {
        "name": name,
        "trading_name": form.trading_name.data or None,
        "country": form.country.data or None,
        "duns": duns,
    }
    profile.save_section(org, "company", values, actor=actor)


# -- tax ---------------------------------------------------------------------------------------


def _load_tax(org: Organization) -> dict[str, Any]:
    # The stored tax id is shown masked on the page, never put back into the form.
    return {}


def _save_tax(org: Organization, form, actor) -> None:
    if not form.tax_id.data:
        return  # left blank: keep the saved tax id
    if not org.country:
        raise FieldError(
            "tax_id", "Tax ID needs the company's country: choose it in the Company step first."
        )
    checked = rules.validate_tax_id(org.country, form.tax_id.data)
    values = {"tax_id": checked.value, "tax_id_scheme": checked.scheme}
    profile.save_section(org, "tax", values, actor=actor)


# -- addresses and contacts --------------------------------------------------------------------


def _load_addresses(org: Organization) -> dict[str, Any]:
    p = profile_of(org)
    return {"ordering": p.ordering_address or {}, "remit": p.remit_address or {}}


def _clean(data: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in data.items() if v and k != "csrf_token"}


def _save_addresses(org: Organization, form, actor) -> None:
    values = {
        "ordering_address": _clean(form.ordering.data),
        "remit_address": _clean(form.remit.data),
    }
    profile.save_section(org, "addresses", values, actor=actor)


def _load_contacts(org: Organization) -> dict[str, Any]:
    return dict(profile_of(org).contacts or {})


def _save_contacts(org: Organization, form, actor) -> None:
    roles = profile.CONTACT_ROLES[org.kind]
    contacts = {role: _clean(getattr(form, role).data) for role in roles}
    profile.save_section(org, "contacts", {"contacts": contacts}, actor=actor)


# -- payment and bank --------------------------------------------------------------------------


def _load_payment(org: Organization) -> dict[str, Any]:
    p = profile_of(org)
    return {"currency": p.currency, "accept_terms": p.payment_terms_accepted_at is not None}


def _save_payment(org: Organization, form, actor) -> None:
    if form.accept_terms.data:
        profile.accept_payment_terms(org, payment_terms(), form.currency.data, actor=actor)
        return
    values = {
        "currency": form.currency.data,
        "payment_terms": None,
        "payment_terms_accepted_at": None,
    }
    profile.save_section(org, "payment", values, actor=actor)


def bank_details(form) -> rules.BankDetails:
    return rules.validate_bank(
        form.scheme.data,
        iban=form.iban.data or "",
        bic=form.bic.data or "",
        routing=form.routing_number.data or "",
        account=form.account_number.data or "",
    )


def _load_bank(org: Organization) -> dict[str, Any]:
    # Stored identifiers are never sent back to the browser: the form starts empty and the
    # page shows the saved account masked.
    account = draft_bank_account(org)
    if account is None:
        return {"scheme": "IBAN" if (org.country or "US") != "US" else "US_ABA"}
    return {
        "account_holder": account.account_holder,
        "bank_name": account.bank_name,
        "scheme": account.scheme.value,
    }


def _save_bank(org: Organization, form, actor) -> None:
    banking.save_draft(
        org, form.account_holder.data, form.bank_name.data, bank_details(form), actor=actor
    )


# -- partner sections --------------------------------------------------------------------------


def _load_platform(org: Organization) -> dict[str, Any]:
    p = profile_of(org)
    return {
        "platform_description": p.platform_description,
        "scopes_wanted": list(p.scopes_wanted or []),
        "tier_wanted": p.tier_wanted,
        "webhook_url": p.webhook_url,
    }


def _save_platform(org: Organization, form, actor) -> None:
    url = form.webhook_url.data or None
    if url and (problem := rules.https_url_problem(url)):
        raise FieldError("webhook_url", problem)
    values = {
        "platform_description": form.platform_description.data or None,
        "scopes_wanted": [s for s in SCOPES if s in (form.scopes_wanted.data or [])],
        "tier_wanted": form.tier_wanted.data or None,
        "webhook_url": url,
    }
    profile.save_section(org, "platform", values, actor=actor)


def _load_security(org: Organization) -> dict[str, Any]:
    return dict(profile_of(org).security_answers or {})


def _save_security(org: Organization, form, actor) -> None:
    answers = {
        q: getattr(form, q).data for q in profile.SECURITY_QUESTIONS if getattr(form, q).data
    }
    profile.save_section(org, "security", {"security_answers": answers}, actor=actor)


STEPS: dict[tuple[OrgKind, str], Step] = {
    (OrgKind.SUPPLIER, "company"): Step(forms.CompanyForm, _load_company, _save_company),
    (OrgKind.SUPPLIER, "tax"): Step(forms.TaxForm, _load_tax, _save_tax),
    (OrgKind.SUPPLIER, "addresses"): Step(forms.AddressesForm, _load_addresses, _save_addresses),
    (OrgKind.SUPPLIER, "contacts"): Step(
        forms.SupplierContactsForm, _load_contacts, _save_contacts
    ),
    (OrgKind.SUPPLIER, "payment"): Step(forms.PaymentForm, _load_payment, _save_payment),
    (OrgKind.SUPPLIER, "bank"): Step(forms.BankForm, _load_bank, _save_bank),
    (OrgKind.PARTNER, "company"): Step(forms.CompanyForm, _load_company, _save_company),
    (OrgKind.PARTNER, "contacts"): Step(forms.PartnerContactsForm, _load_contacts, _save_contacts),
    (OrgKind.PARTNER, "platform"): Step(forms.PlatformForm, _load_platform, _save_platform),
    (OrgKind.PARTNER, "security"): Step(forms.SecurityForm, _load_security, _save_security),
}


def next_section(kind: OrgKind, section: str) -> str | None:
    keys = rules.section_keys(kind)
    index = keys.index(section)
    return keys[index + 1] if index + 1 < len(keys) else None
