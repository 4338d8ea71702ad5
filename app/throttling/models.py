"""Throttling tiers, who is on which tier, and the tier requests procurement admins decide.

A tier request's life cycle is `state` (TierRequestState), as for documents; organizations,
bank accounts and identity providers say `status` for the same idea. Only
`app.throttling.services.transition` changes it. PENDING means waiting for a decision; it is
not a hold (holds belong to documents and finance).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import Model, TimestampMixin, UTCDateTime, enum_column
from app.orgs.models import Organization


class Tier(TimestampMixin, Model):
    """A named set of limits; every API client is on exactly one tier at a time."""

    __tablename__ = "throttle_tiers"
    __table_args__ = (
        CheckConstraint("requests_per_minute > 0", name="requests_per_minute_positive"),
        CheckConstraint("burst_per_second > 0", name="burst_per_second_positive"),
        CheckConstraint("requests_per_day > 0", name="requests_per_day_positive"),
        CheckConstraint("max_body_bytes > 0", name="max_body_bytes_positive"),
        CheckConstraint("documents_per_day > 0", name="documents_per_day_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    requests_per_minute: Mapped[int]
    burst_per_second: Mapped[int]
    requests_per_day: Mapped[int]
    max_body_bytes: Mapped[int]
    documents_per_day: Mapped[int]
    # The tier of organizations nobody assigned one to; exactly one tier carries it.
    is_default: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<Tier {self.id} {self.name!r}>"


class OrganizationTier(TimestampMixin, Model):
    """The tier an organization's API clients are on unless a client has an override."""

    __tablename__ = "organization_tiers"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    tier_id: Mapped[int] = mapped_column(ForeignKey("throttle_tiers.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organization: Mapped[Organization] = relationship()
    tier: Mapped[Tier] = relationship(lazy="joined")


class ClientTierOverride(TimestampMixin, Model):
    """One API client on another tier than its organization.

    The organization is stored too, so an override only applies to a client that really
    belongs to that organization.
    """

    __tablename__ = "client_tier_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_client_id: Mapped[int] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), unique=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    tier_id: Mapped[int] = mapped_column(ForeignKey("throttle_tiers.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    tier: Mapped[Tier] = relationship(lazy="joined")


class TierRequestState(enum.StrEnum):
    """Where a tier request is in its life cycle (`state`, like documents; see
    `app.throttling.services.ALLOWED`)."""

    PENDING = "PENDING"  # waiting for a procurement admin's decision
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class TierRequest(TimestampMixin, Model):
    """A partner's or supplier's wish for another tier, held until a procurement admin decides."""

    __tablename__ = "tier_requests"
    __table_args__ = (
        # One open request per organization: a second one would race the first decision.
        Index(
            "uq_tier_requests_open_per_organization",
            "organization_id",
            unique=True,
            postgresql_where=text("state = 'PENDING'"),
            sqlite_where=text("state = 'PENDING'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    requested_tier_id: Mapped[int] = mapped_column(ForeignKey("throttle_tiers.id"))
    # What the organization was on when it asked, so the decision shows the change.
    current_tier_id: Mapped[int | None] = mapped_column(ForeignKey("throttle_tiers.id"))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[TierRequestState] = mapped_column(
        enum_column(TierRequestState), default=TierRequestState.PENDING
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(String(500), default="")

    organization: Mapped[Organization] = relationship()
    requested_tier: Mapped[Tier] = relationship(foreign_keys=[requested_tier_id])
    current_tier: Mapped[Tier | None] = relationship(foreign_keys=[current_tier_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
