"""The guided profile: each step saves its own fields as a draft, audited with before/after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.audit.services import record
from app.crypto import mask
from app.db import db, utcnow
from app.onboarding import rules
from app.onboarding.documents import missing_documents
from app.onboarding.errors import OnboardingError
from app.onboarding.models import BankAccount, BankStatus, Profile, existing_profile
from app.orgs.models import Organization, OrgKind

# Fields of Organization itself; every other field of a step lives on Profile.
ORG_FIELDS = frozenset({"name", "country"})
SECRET_FIELDS = frozenset({"tax_id"})


def profile_of(org: Organization) -> Profile:
    """The organization's profile, created on first use (organizations seeded before onboarding)."""
    profile = existing_profile(org)
    if profile is None:
        profile = Profile(organization=org, contacts={})
        db.session.add(profile)
        db.session.flush()
    return profile


def require_editable(org: Organization) -> None:
    if org.status not in rules.EDITABLE_STATES:
        raise OnboardingError(
            f"The profile cannot be changed while the organization is {org.status.value}."
        )


def _shown(field: str, value: Any) -> Any:
    """A value as the audit log keeps it: secrets masked, dates as ISO strings."""
    if field in SECRET_FIELDS and isinstance(value, str):
        return mask(value)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def save_section(org: Organization, section: str, values: dict[str, Any], *, actor) -> bool:
    """Store a step's values as the draft; returns whether anything changed."""
    require_editable(org)
    profile = profile_of(org)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in values.items():
        target = org if field in ORG_FIELDS else profile
        old = getattr(target, field)
        if old != value:
            before[field], after[field] = _shown(field, old), _shown(field, value)
            setattr(target, field, value)
    if not after:
        return False
    db.session.flush()
    record(
        "onboarding.profile_saved",
        actor=actor,
        organization_id=org.id,
        target=org,
        details={"section": section, "before": before, "after": after},
    )
    return True


def accept_payment_terms(org: Organization, terms: str, currency: str, *, actor) -> bool:
    profile = profile_of(org)
    values: dict[str, Any] = {"currency": currency, "payment_terms": terms}
    if profile.payment_terms != terms or profile.payment_terms_accepted_at is None:
        values["payment_terms_accepted_at"] = utcnow()
    return save_section(org, "payment", values, actor=actor)


# -- completeness ------------------------------------------------------------------------------

ADDRESS_FIELDS = ("street", "city", "postal_code", "country")
CONTACT_ROLES = {
    OrgKind.SUPPLIER: ("primary", "accounts_receivable"),
    OrgKind.PARTNER: ("technical", "security"),
}
SECURITY_QUESTIONS = (
    "hosting_region",
    "encryption_at_rest",
    "encryption_in_transit",
    "incident_contact",
)


def _address_complete(address: dict[str, str]) -> bool:
    return all((address or {}).get(k) for k in ADDRESS_FIELDS)


def _contacts_complete(org: Organization, profile: Profile) -> bool:
    contacts = profile.contacts or {}
    return all(
        (contacts.get(role) or {}).get("name") and (contacts.get(role) or {}).get("email")
        for role in CONTACT_ROLES.get(org.kind, ())
    )


def draft_bank_account(org: Organization) -> BankAccount | None:
    query = select(BankAccount).where(
        BankAccount.organization_id == org.id, BankAccount.status == BankStatus.DRAFT
    )
    return db.session.scalar(query)


def _has_bank_account(org: Organization) -> bool:
    """A draft while onboarding; once approved, the account in force (the draft became it)."""
    query = select(BankAccount.id).where(
        BankAccount.organization_id == org.id,
        BankAccount.status.in_((BankStatus.DRAFT, BankStatus.ACTIVE)),
    )
    return db.session.scalar(query.limit(1)) is not None


def section_status(org: Organization) -> dict[str, bool]:
    """Each section of the organization's profile: complete or not."""
    profile = profile_of(org)
    if org.kind == OrgKind.PARTNER:
        return {
            "company": bool(org.name and org.country),
            "contacts": _contacts_complete(org, profile),
            "platform": bool(
                profile.platform_description
                and profile.scopes_wanted
                and profile.tier_wanted
                and profile.webhook_url
            ),
            "security": all((profile.security_answers or {}).get(q) for q in SECURITY_QUESTIONS),
        }
    return {
        "company": bool(org.name and org.country),
        "tax": bool(profile.tax_id),
        "addresses": _address_complete(profile.ordering_address)
        and _address_complete(profile.remit_address),
        "contacts": _contacts_complete(org, profile),
        "payment": profile.payment_terms_accepted_at is not None,
        "bank": _has_bank_account(org),
        "documents": not missing_documents(org),
    }


def incomplete_sections(org: Organization) -> list[rules.Section]:
    status = section_status(org)
    return [s for s in rules.sections_for(org.kind) if not status.get(s.key)]
