"""Identity providers configured per organization, and the links from their subjects to users.

A provider's life cycle is `status` (ProviderStatus), as for organizations and bank accounts;
documents and tier requests say `state` for the same idea. Only
`app.federation.services.transition` changes it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedString
from app.db import Model, TimestampMixin, UTCDateTime, enum_column, utcnow
from app.orgs.models import Organization
from app.orgs.roles import Role

if TYPE_CHECKING:
    from app.accounts.models import User

DEFAULT_SCOPES = "openid email profile"


class ProviderStatus(enum.StrEnum):
    """A provider signs people in only once a procurement admin approved its settings."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class IdentityProvider(TimestampMixin, Model):
    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(EncryptedString(1024))
    scopes: Mapped[str] = mapped_column(String(255), default=DEFAULT_SCOPES)
    groups_claim: Mapped[str] = mapped_column(String(64), default="groups")
    # {"group name in the groups claim": "role value"}; re-applied at every sign-in when set.
    role_mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    jit_enabled: Mapped[bool] = mapped_column(default=False)
    jit_role: Mapped[Role | None] = mapped_column(enum_column(Role))
    sso_required: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ProviderStatus] = mapped_column(
        enum_column(ProviderStatus), default=ProviderStatus.PENDING
    )
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(String(500))
    last_tested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # None after a successful test sign-in; what went wrong otherwise.
    last_test_error: Mapped[str | None] = mapped_column(String(500))

    organization: Mapped[Organization] = relationship(lazy="joined")
    domains: Mapped[list[IdentityProviderDomain]] = relationship(
        back_populates="provider",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="IdentityProviderDomain.domain",
    )
    changed_by: Mapped[User | None] = relationship(foreign_keys=[changed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    @property
    def is_approved(self) -> bool:
        return self.status == ProviderStatus.APPROVED

    @property
    def domain_names(self) -> list[str]:
        return [d.domain for d in self.domains]

    def __repr__(self) -> str:
        return f"<IdentityProvider {self.id} {self.issuer} {self.status.value}>"


class IdentityProviderDomain(Model):
    """An email domain whose people sign in through a provider; one provider per domain."""

    __tablename__ = "identity_provider_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(253), unique=True)

    provider: Mapped[IdentityProvider] = relationship(back_populates="domains")


class UserIdentity(Model):
    """A provider's subject linked to a portal user; sign-ins match on (issuer, subject)."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="SET NULL"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    provider: Mapped[IdentityProvider | None] = relationship()


class BreakGlassAccount(Model):
    """A named admin of an organization who may still sign in with a password (and always a
    second factor) while the organization requires company sign-in: the way in when the
    organization's identity provider is down. One row per user; revoking keeps the row."""

    __tablename__ = "break_glass_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])
    organization: Mapped[Organization] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
