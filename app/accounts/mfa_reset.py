"""Resetting someone's second factor (a lost phone and no recovery codes), with four eyes.

One admin asks, with a reason; a different admin confirms. Confirming deletes the authenticator
secret and the recovery codes, ends the person's sessions and makes them set up a new
authenticator at their next sign-in, whatever their role. Nobody resets their own.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from app.accounts import sessions
from app.accounts.mfa import MfaError
from app.accounts.models import MfaResetRequest, RecoveryCode, TotpCredential, User
from app.audit.services import record
from app.db import db, utcnow


def _org_id(user: User) -> int | None:
    return user.organization.id if user.organization else None


def open_request(user: User, *, lock: bool = False) -> MfaResetRequest | None:
    query = select(MfaResetRequest).where(
        MfaResetRequest.user_id == user.id,
        MfaResetRequest.confirmed_at.is_(None),
        MfaResetRequest.cancelled_at.is_(None),
    )
    return db.session.scalar(query.with_for_update() if lock else query)


def request_reset(user: User, reason: str, *, actor: User) -> MfaResetRequest:
    if actor.id == user.id:
        raise MfaError("You cannot reset your own two-step verification.")
    if not reason.strip():
        raise MfaError("A reason is required to reset two-step verification.")
    if open_request(user, lock=True) is not None:
        raise MfaError("A reset is already waiting for a second admin to confirm it.")
    row = MfaResetRequest(user_id=user.id, reason=reason.strip(), requested_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    record(
        "mfa.reset_requested",
        actor=actor,
        organization_id=_org_id(user),
        target=user,
        details={"reason": row.reason, "request_id": row.id},
    )
    return row


def confirm_reset(user: User, *, actor: User) -> None:
    """The second admin confirms: the factor is gone and must be set up again."""
    row = open_request(user, lock=True)
    if row is None:
        raise MfaError("No reset is waiting for confirmation for this person.")
    if actor.id == user.id:
        raise MfaError("You cannot reset your own two-step verification.")
    if actor.id == row.requested_by_id:
        raise MfaError("You asked for this reset; a second admin must confirm it.")
    row.confirmed_by_id, row.confirmed_at = actor.id, utcnow()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    user.mfa_enrol_required = True
    ended = sessions.end_all_for(user, "mfa_reset")
    record(
        "mfa.reset",
        actor=actor,
        organization_id=_org_id(user),
        target=user,
        details={
            "reason": row.reason,
            "requested_by_id": row.requested_by_id,
            "confirmed_by_id": actor.id,
            "sessions_ended": ended,
        },
    )


def cancel_reset(user: User, *, actor: User) -> None:
    row = open_request(user, lock=True)
    if row is None:
        raise MfaError("No reset is waiting for confirmation for this person.")
    row.cancelled_at = utcnow()
    record(
        "mfa.reset_cancelled",
        actor=actor,
        organization_id=_org_id(user),
        target=user,
        details={"request_id": row.id},
    )
