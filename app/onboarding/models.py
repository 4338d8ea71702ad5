"""How an organization becomes trusted: enrollment links, the profile, bank accounts,
supporting documents, review comments and screenings against the exclusion list.

Life cycles here are `status` (BankAccount.status: BankStatus; Organization.status: OrgStatus),
as for identity providers; documents and tier requests call theirs `state`. Same idea, two
words: the columns were not renamed (a data migration plus every query and template, for no
change in meaning). Only `app.onboarding.bank_states.transition` changes a bank account's
status, only `app.onboarding.states.transition` an organization's.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Date, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedString
from app.db import Model, TimestampMixin, UTCDateTime, db, enum_column, utcnow
from app.orgs.models import Organization, OrgKind


class EnrollmentVia(enum.StrEnum):
    INVITATION = "invitation"
    REGISTRATION = "registration"


class Enrollment(TimestampMixin, Model):
    """A single-use, expiring link that lets a company's first admin set a password.

    An invitation is created by a procurement admin; a registration by the company itself. Both
    prove the email address: the organization and its user exist only once the link is used.
    """

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    via: Mapped[EnrollmentVia] = mapped_column(enum_column(EnrollmentVia))
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind))
    email: Mapped[str] = mapped_column(String(254), index=True)
    company_name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A procurement admin withdrew the invitation: the link no longer works.
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)

    organization: Mapped[Organization | None] = relationship()


class Profile(TimestampMixin, Model):
    """The onboarding profile, filled in step by step and saved as a draft at every step.

    The legal name and country live on Organization itself; the tax id is encrypted at rest.
    """

    __tablename__ = "onboarding_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    trading_name: Mapped[str | None] = mapped_column(String(200))
    duns: Mapped[str | None] = mapped_column(String(9))
    tax_id: Mapped[str | None] = mapped_column(EncryptedString(500))
    tax_id_scheme: Mapped[str | None] = mapped_column(String(32))
    ordering_address: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    remit_address: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    contacts: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    payment_terms: Mapped[str | None] = mapped_column(String(32))
    payment_terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Partner fields.
    platform_description: Mapped[str | None] = mapped_column(Text)
    scopes_wanted: Mapped[list[str]] = mapped_column(JSON, default=list)
    tier_wanted: Mapped[str | None] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    security_answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Lifecycle notes shown to the organization and to reviewers.
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    suspended_reason: Mapped[str | None] = mapped_column(String(64))
    erp_sync_error: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()


def existing_profile(org: Organization) -> Profile | None:
    """The organization's profile, or None before onboarding started (the tenant model in
    app.orgs knows nothing of profiles, so this is the one way to reach it from an org)."""
    return db.session.scalar(select(Profile).where(Profile.organization_id == org.id))


class BankStatus(enum.StrEnum):
    DRAFT = "DRAFT"  # part of a profile not yet approved
    PENDING = "PENDING"  # a change after activation, waiting for two approvers
    ACTIVE = "ACTIVE"  # the details in force: payments go here
    SUPERSEDED = "SUPERSEDED"
    REJECTED = "REJECTED"


class BankScheme(enum.StrEnum):
    IBAN = "IBAN"
    US_ABA = "US_ABA"


class BankAccount(TimestampMixin, Model):
    """Where the hospital pays a supplier; account identifiers are encrypted at rest."""

    __tablename__ = "bank_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[BankStatus] = mapped_column(enum_column(BankStatus))
    scheme: Mapped[BankScheme] = mapped_column(enum_column(BankScheme))
    account_holder: Mapped[str] = mapped_column(String(200))
    bank_name: Mapped[str] = mapped_column(String(200))
    iban: Mapped[str | None] = mapped_column(EncryptedString(500))
    bic: Mapped[str | None] = mapped_column(EncryptedString(500))
    routing_number: Mapped[str | None] = mapped_column(EncryptedString(500))
    account_number: Mapped[str | None] = mapped_column(EncryptedString(500))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # When these details came into force; invoice matching reads it (BANK_DETAILS hold).
    effective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the ERP's vendor record was seen holding these details (None: not there yet), and
    # the ERP's last refusal, if it refused them (app.onboarding.erp_push).
    erp_synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    erp_sync_error: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()

    @property
    def account_identifier(self) -> str:
        """The IBAN or the US account number: what payments are sent to."""
        return (self.iban if self.scheme == BankScheme.IBAN else self.account_number) or ""

    @property
    def bank_code(self) -> str:
        return (self.bic if self.scheme == BankScheme.IBAN else self.routing_number) or ""


class SupportingDocumentKind(enum.StrEnum):
    W9 = "W9"
    W8 = "W8"
    INSURANCE = "COI"
    BANK_LETTER = "BANK_LETTER"

    @property
    def label(self) -> str:
        return DOCUMENT_LABELS[self]


DOCUMENT_LABELS = {
    SupportingDocumentKind.W9: "Form W-9",
    SupportingDocumentKind.W8: "Form W-8 (BEN / BEN-E)",
    SupportingDocumentKind.INSURANCE: "Certificate of insurance",
    SupportingDocumentKind.BANK_LETTER: "Bank letter",
}


class SupportingDocument(Model):
    """An uploaded file; the bytes live under a generated name outside the web root."""

    __tablename__ = "onboarding_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[SupportingDocumentKind] = mapped_column(enum_column(SupportingDocumentKind))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A newer upload of the same kind replaces this one; the old file stays for the record.
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expiry_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ReviewComment(Model):
    """A reviewer's request for changes to one section of the profile."""

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    section: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the organization resubmits: the comment was answered.
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Screening(Model):
    """One check of an organization against the loaded exclusion list."""

    __tablename__ = "screenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    screened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    list_load_id: Mapped[int | None] = mapped_column(ForeignKey("exclusion_list_loads.id"))
    hits: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Four eyes: one procurement admin proposes an override (with the reason), another confirms
    # it; only the confirmation (overridden_at, overridden_by_id) lets the screening pass.
    override_proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_proposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    overridden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    overridden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    override_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def clear(self) -> bool:
        """Screened against a loaded list and nothing matched."""
        return self.list_load_id is not None and not self.hits

    @property
    def passed(self) -> bool:
        return self.clear or self.overridden_at is not None

    @property
    def override_pending(self) -> bool:
        """Proposed by one admin, not yet confirmed by a second."""
        return self.override_proposed_at is not None and self.overridden_at is None


class ExclusionListLoad(Model):
    """One load of the exclusion list file (the OIG LEIE layout); the newest one is in force."""

    __tablename__ = "exclusion_list_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(255))
    entry_count: Mapped[int]
    skipped_count: Mapped[int] = mapped_column(default=0)


class ExclusionEntry(Model):
    """An excluded business or individual, keyed by normalized name and (if known) tax id."""

    __tablename__ = "exclusion_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    load_id: Mapped[int] = mapped_column(
        ForeignKey("exclusion_list_loads.id", ondelete="CASCADE"), index=True
    )
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    display_name: Mapped[str] = mapped_column(String(300))
    tax_key: Mapped[str | None] = mapped_column(String(32), index=True)
    npi: Mapped[str | None] = mapped_column(String(10))
    exclusion_type: Mapped[str | None] = mapped_column(String(16))
    excluded_on: Mapped[dt.date | None] = mapped_column(Date)
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
