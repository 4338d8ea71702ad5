"""The one function that changes an organization's state: audit entry and mail included."""

from __future__ import annotations

from typing import Any

from app.audit.services import record
from app.db import db
from app.onboarding import notify
from app.onboarding.errors import OnboardingError
from app.onboarding.models import existing_profile
from app.onboarding.rules import can_transition
from app.orgs.models import Organization, OrgStatus

# Who hears about each new state, and in which words (templates/mail/status_<state>.txt).
SUBJECTS = {
    OrgStatus.SUBMITTED: "Your onboarding profile was submitted",
    OrgStatus.CHANGES_REQUESTED: "Changes requested to your onboarding profile",
    OrgStatus.APPROVED: "Your organization was approved",
    OrgStatus.REJECTED: "Your onboarding was not approved",
    OrgStatus.ACTIVE: "Your organization is active",
    OrgStatus.SUSPENDED: "Your organization is suspended",
}
PROCUREMENT_SUBJECTS = {
    OrgStatus.SUBMITTED: "Onboarding review needed",
    OrgStatus.SUSPENDED: "Supplier suspended",
}


def transition(
    org: Organization,
    target: OrgStatus,
    *,
    actor: Any,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move `org` to `target` if the state machine allows it; audit and notify."""
    before = org.status
    if not can_transition(before, target):
        raise OnboardingError(
            f"An organization in state {before.value} cannot become {target.value}."
        )
    org.status = target
    db.session.flush()
    record(
        f"organization.{target.value.lower()}",
        actor=actor,
        organization_id=org.id,
        target=org,
        details={
            "before": {"status": before.value},
            "after": {"status": target.value},
            "reason": reason,
            **(details or {}),
        },
    )
    _notify(org, target, reason)


def _notify(org: Organization, target: OrgStatus, reason: str | None) -> None:
    template = f"status_{target.value.lower()}"
    if target in SUBJECTS:
        profile = existing_profile(org)
        suspended_reason = profile.suspended_reason if profile else None
        notify.tell_org(
            org, SUBJECTS[target], template, reason=reason, suspended_reason=suspended_reason
        )
    if target in PROCUREMENT_SUBJECTS:
        notify.tell_procurement(
            org, PROCUREMENT_SUBJECTS[target], f"procurement_{template}", reason=reason
        )
