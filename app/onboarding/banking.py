"""Bank details: a draft during onboarding, then changes that two other people must approve.

The details in force stay in force until a change is fully approved; the moment a change takes
effect is kept on the account (effective_at) and on the organization (bank_changed_at), which
the invoice matching reads for its BANK_DETAILS hold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.services import record
from app.crypto import mask
from app.db import db, utcnow
from app.onboarding import bank_states, erp_push, notify, rules
from app.onboarding.enrollment import check_no_conflict
from app.onboarding.errors import ConflictOfInterest, OnboardingError
from app.onboarding.models import BankAccount, BankScheme, BankStatus
from app.onboarding.profile import draft_bank_account, require_editable
from app.orgs.models import Organization, OrgStatus

CHANGE_STATES = frozenset({OrgStatus.ACTIVE, OrgStatus.SUSPENDED})


def masked(account: BankAccount | None) -> dict[str, Any]:
    """What the audit log and pages show: identifiers reduced to their last 4 characters."""
    if account is None:
        return {}
    return {
        "scheme": account.scheme.value,
        "bank_name": account.bank_name,
        "account_holder": account.account_holder,
        "account": mask(account.account_identifier),
        "bank_code": mask(account.bank_code),
    }


def _apply(account: BankAccount, holder: str, bank_name: str, details: rules.BankDetails) -> None:
    account.scheme = BankScheme(details.scheme)
    account.account_holder = holder.strip()
    account.bank_name = bank_name.strip()
    account.iban, account.bic = details.iban, details.bic
    account.routing_number, account.account_number = details.routing_number, details.account_number


def save_draft(
    org: Organization, holder: str, bank_name: str, details: rules.BankDetails, *, actor
) -> BankAccount:
    """The onboarding bank step: one draft account, edited in place until approval."""
    require_editable(org)
    account = draft_bank_account(org)
    before = masked(account)
    if account is None:
        account = BankAccount(organization_id=org.id, status=BankStatus.DRAFT)
        db.session.add(account)
    _apply(account, holder, bank_name, details)
    account.requested_by_id = getattr(actor, "id", None)
    db.session.flush()
    record(
        "onboarding.profile_saved",
        actor=actor,
        organization_id=org.id,
        target=account,
        details={"section": "bank", "before": before, "after": masked(account)},
    )
    return account


def activate_draft(org: Organization, *, actor) -> BankAccount | None:
    """At approval the onboarding draft becomes the account in force."""
    account = draft_bank_account(org)
    if account is not None:
        now = utcnow()
        account.effective_at = now
        account.decided_by_id, account.decided_at = getattr(actor, "id", None), now
        bank_states.transition(
            account, BankStatus.ACTIVE, actor=actor, reason="the organization was approved"
        )
    return account


def active_account(org: Organization) -> BankAccount | None:
    return _one(org, BankStatus.ACTIVE)


def pending_change(org: Organization) -> BankAccount | None:
    return _one(org, BankStatus.PENDING)


def _one(org: Organization, status: BankStatus) -> BankAccount | None:
    query = (
        select(BankAccount)
        .where(BankAccount.organization_id == org.id, BankAccount.status == status)
        .order_by(BankAccount.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def account_of(org: Organization, account_id: int) -> BankAccount | None:
    """A bank account by id, only if it belongs to `org`."""
    query = select(BankAccount).where(
        BankAccount.id == account_id, BankAccount.organization_id == org.id
    )
    return db.session.scalar(query)


def history(org: Organization) -> list[BankAccount]:
    query = (
        select(BankAccount)
        .where(BankAccount.organization_id == org.id)
        .order_by(BankAccount.id.desc())
    )
    return list(db.session.scalars(query))


def request_change(
    org: Organization, holder: str, bank_name: str, details: rules.BankDetails, *, actor
) -> BankAccount:
    """A live supplier asks to be paid elsewhere; nothing changes until two approvals."""
    if org.status not in CHANGE_STATES:
        raise OnboardingError("Bank changes are requested once the organization is active.")
    if pending_change(org) is not None:
        raise OnboardingError("A bank change is already waiting for approval.")
    account = BankAccount(
        organization_id=org.id, status=BankStatus.PENDING, requested_by_id=actor.id
    )
    _apply(account, holder, bank_name, details)
    db.session.add(account)
    db.session.flush()
    record(
        "bank_account.change_requested",
        actor=actor,
        organization_id=org.id,
        target=account,
        details={"before": masked(active_account(org)), "after": masked(account)},
    )
    notify.tell_org(
        org, "A change of bank details was requested", "bank_change_requested", account=account
    )
    notify.tell_procurement(
        org, "Bank change to approve", "procurement_bank_change_requested", account=account
    )
    return account


def _check_reviewer(org: Organization, account: BankAccount, actor) -> None:
    # Two approvers at once take turns, so the second sees the first approval.
    db.session.refresh(account, with_for_update=True)
    if account.status != BankStatus.PENDING:
        raise OnboardingError("This bank change is not waiting for approval.")

    check_no_conflict(org, actor)
    if actor.id == account.requested_by_id:
        raise ConflictOfInterest("The person who asked for a bank change cannot decide on it.")


def _check_approver(org: Organization, account: BankAccount, actor) -> None:
    _check_reviewer(org, account, actor)
    if actor.id == account.first_approved_by_id:
        raise ConflictOfInterest("A second procurement admin must give the second approval.")


def approve_change(org: Organization, account: BankAccount, *, actor) -> bool:
    """Record one approval; the second, by another person, puts the change in force.

    Returns True when the new details took effect.
    """
    _check_approver(org, account, actor)
    now = utcnow()
    if account.first_approved_by_id is None:
        account.first_approved_by_id, account.first_approved_at = actor.id, now
        record(
            "bank_account.first_approval",
            actor=actor,
            organization_id=org.id,
            target=account,
            details={"after": masked(account)},
        )
        return False
    _put_in_force(org, account, actor, now)
    return True


def _put_in_force(org: Organization, account: BankAccount, actor, now) -> None:
    old = active_account(org)
    if old is not None:
        old.superseded_at = now
        bank_states.transition(
            old, BankStatus.SUPERSEDED, actor=actor, details={"superseded_by": account.id}
        )
    account.effective_at = now
    account.decided_by_id, account.decided_at = actor.id, now
    org.bank_changed_at = now
    bank_states.transition(
        account,
        BankStatus.ACTIVE,
        actor=actor,
        action="bank_account.changed",
        details={
            "before": masked(old),
            "after": masked(account),
            "effective_at": now.isoformat(),
        },
    )
    erp_push.push_after_commit(account)
    notify.tell_org(
        org, "Your new bank details are in force", "bank_change_approved", account=account
    )


def reject_change(org: Organization, account: BankAccount, reason: str, *, actor) -> None:
    if not reason.strip():
        raise OnboardingError("A reason is required to reject a bank change.")
    _check_reviewer(org, account, actor)
    account.decided_by_id, account.decided_at, account.decision_reason = actor.id, utcnow(), reason
    bank_states.transition(
        account,
        BankStatus.REJECTED,
        actor=actor,
        reason=reason,
        action="bank_account.change_rejected",
        details={"after": masked(account)},
    )
    notify.tell_org(
        org,
        "Your bank change was not approved",
        "bank_change_rejected",
        account=account,
        reason=reason,
    )
