"""Organizations, memberships and connections: the tenants every query is scoped to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Protocol

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, TimestampMixin, UTCDateTime, enum_column
from app.orgs.roles import Role


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

    @property
    def is_active(self) -> bool:
        return self.status == OrgStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r} {self.kind.value}>"


class Member(Protocol):
    """What the tenant knows of a member: `accounts.models.User` is the class behind it, named
    by string below so that this package never imports the accounts package above it."""

    id: int
    email: str
    name: str
    active: bool
    last_login_at: dt.datetime | None


class Membership(TimestampMixin, Model):
    """A user's role in one organization."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))

    user: Mapped[Member] = relationship("User", back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships", lazy="joined")


class ConnectionScope(enum.StrEnum):
    """What a partner may do for a connected supplier."""

    INVOICES = "invoices"
    ACKNOWLEDGMENTS = "acknowledgments"
    PURCHASE_ORDERS = "purchase_orders"


class Connection(TimestampMixin, Model):
    """A supplier's authorization for a partner to act on its behalf, per scope."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("partner_id", "supplier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Column name kept from the first schema; it holds ConnectionScope values.
    document_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    partner: Mapped[Organization] = relationship(foreign_keys=[partner_id])
    supplier: Mapped[Organization] = relationship(foreign_keys=[supplier_id])

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: ConnectionScope) -> bool:
        return self.is_live and scope.value in self.document_types
