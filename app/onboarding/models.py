"""Organizations: the tenants every query is scoped to."""

from __future__ import annotations

import enum

from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, db, enum_column

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

    memberships: Mapped[list[Membership]] = relationship(back_populates="organization")

    @property
    def is_active(self) -> bool:
        return self.status == OrgStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r} {self.kind.value}>"

