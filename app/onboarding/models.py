"""Organizations: the tenants every query is scoped to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedString
from app.db import Model, TimestampMixin, UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from app.accounts.models import Membership


class OrgKind(enum.StrEnum):
    BUYER = "buyer"
    SUPPLIER = "supplier"
    PARTNER = "partner"


class OrgStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    SUSPENDED = "SUSPENDED"


class Organization(TimestampMixin, Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind))
    status: Mapped[OrgStatus] = mapped_column(enum_column(OrgStatus), default=OrgStatus.DRAFT)
    # The vendor number in the ERP's vendor master, once the supplier is synced.
    erp_vendor_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    # OAuth scopes a procurement admin approved for this organization's API clients.
    approved_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When the bank details last changed after activation (the BANK_DETAILS hold reads it).
    bank_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")
    profile: Mapped[Profile | None] = relationship(back_populates="organization")

    @property
    def is_active(self) -> bool:
        return self.status == OrgStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r} {self.kind.value}>"


class DocumentType(enum.StrEnum):
    """What a partner may do for a connected supplier."""

    INVOICES = "invoices"
    ACKNOWLEDGMENTS = "acknowledgments"
    PURCHASE_ORDERS = "purchase_orders"


class Connection(TimestampMixin, Model):
    """A supplier's authorization for a partner to act on its behalf, per document type."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("partner_id", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    document_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Organization] = relationship(foreign_keys=[partner_id])
    supplier: Mapped[Organization] = relationship(foreign_keys=[supplier_id])

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    def allows(self, document_type: DocumentType) -> bool:
        return self.is_live and document_type.value in self.document_types


# -- onboarding: how an organization becomes trusted -------------------------------------------
# Everything below belongs to the onboarding flow; the tenant model above is shared.


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

    organization: Mapped[Organization] = relationship(back_populates="profile")


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

    organization: Mapped[Organization] = relationship()

    @property
    def account_identifier(self) -> str:
        """The IBAN or the US account number: what payments are sent to."""
        return (self.iban if self.scheme == BankScheme.IBAN else self.account_number) or ""

    @property
    def bank_code(self) -> str:
        return (self.bic if self.scheme == BankScheme.IBAN else self.routing_number) or ""


class DocumentKind(enum.StrEnum):
    W9 = "W9"
    W8 = "W8"
    INSURANCE = "COI"
    BANK_LETTER = "BANK_LETTER"

    @property
    def label(self) -> str:
        return DOCUMENT_LABELS[self]


DOCUMENT_LABELS = {
    DocumentKind.W9: "Form W-9",
    DocumentKind.W8: "Form W-8 (BEN / BEN-E)",
    DocumentKind.INSURANCE: "Certificate of insurance",
    DocumentKind.BANK_LETTER: "Bank letter",
}


class SupportingDocument(Model):
    """An uploaded file; the bytes live under a generated name outside the web root."""

    __tablename__ = "onboarding_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))
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
