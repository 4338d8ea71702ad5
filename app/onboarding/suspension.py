"""Procurement suspends a live organization and reactivates it.

Suspending ends every browser session of the organization's people at once, and its API
clients' tokens are refused from the next call: the organization's status change moves the
client cache's epoch (app.oauth.client_changes) and the token check refuses a client whose
organization is not active. Documents already received are kept as they are (nothing is
dropped); new ones are refused while the organization is suspended, by the intake checks.
"""

from __future__ import annotations

from sqlalchemy import select

from app.accounts import sessions
from app.accounts.models import User
from app.db import db
from app.onboarding.enrollment import check_no_conflict
from app.onboarding.errors import OnboardingError
from app.onboarding.profile import profile_of
from app.onboarding.states import transition
from app.orgs.models import Membership, Organization, OrgStatus

# Profile.suspended_reason for a suspension by procurement (a new certificate does not lift it).
BY_PROCUREMENT = "procurement"
SESSION_END_REASON = "org_suspended"


def _lock(org: Organization) -> None:
    db.session.refresh(org, with_for_update=True)


def members_of(org: Organization) -> list[User]:
    return list(
        db.session.scalars(
            select(User).join(Membership).where(Membership.organization_id == org.id)
        ).unique()
    )


def suspend(org: Organization, reason: str, *, actor) -> int:
    """Suspend an active organization; returns how many sessions were ended."""
    check_no_conflict(org, actor)
    _lock(org)
    if org.status != OrgStatus.ACTIVE:
        raise OnboardingError(
            f"Only an active organization can be suspended (this one is {org.status.value})."
        )
    if not reason.strip():
        raise OnboardingError("A reason is required to suspend an organization.")
    profile_of(org).suspended_reason = BY_PROCUREMENT
    ended = sum(sessions.end_all_for(user, SESSION_END_REASON) for user in members_of(org))
    transition(
        org,
        OrgStatus.SUSPENDED,
        actor=actor,
        reason=reason.strip(),
        details={"sessions_ended": ended, "by": BY_PROCUREMENT},
    )
    return ended


def reactivate(org: Organization, *, actor) -> None:
    check_no_conflict(org, actor)
    _lock(org)
    if org.status != OrgStatus.SUSPENDED:
        raise OnboardingError("Only a suspended organization can be reactivated.")
    profile = profile_of(org)
    before = profile.suspended_reason
    profile.suspended_reason = None
    transition(
        org,
        OrgStatus.ACTIVE,
        actor=actor,
        reason="reactivated by procurement",
        details={"suspended_reason": before},
    )
