"""Organizations: the tenants every query is scoped to."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, UTCDateTime, db, enum_column

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


class Organization(TimestampMixin, db.Model):
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

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")

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


class Connection(TimestampMixin, db.Model):
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
