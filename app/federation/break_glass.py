"""Break-glass: named admins of an organization that requires company sign-in who may still
sign in with their password and second factor, for when the organization's identity provider
is down. Never depends on the provider; every grant, revocation and use is audited, and every
use is mailed to the organization's other admins. Never commits."""

from __future__ import annotations

from sqlalchemy import select

from app import mail
from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.federation.models import BreakGlassAccount, IdentityProvider
from app.orgs.models import Membership, Organization
from app.orgs.roles import Role

# The roles that make someone an admin of their organization (the hospital's: procurement).
ADMIN_ROLES = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN, Role.PROCUREMENT_ADMIN)


class BreakGlassError(ValueError):
    """A grant or revocation that is not allowed; the message is for the person who asked."""


def is_org_admin(user: User, organization_id: int) -> bool:
    return any(
        m.organization_id == organization_id and m.role in ADMIN_ROLES for m in user.memberships
    )


def may_manage(actor: User, organization: Organization) -> bool:
    """A procurement admin, or an admin of the organization itself."""
    return actor.has_role(Role.PROCUREMENT_ADMIN) or is_org_admin(actor, organization.id)


def admins_of(organization: Organization) -> list[User]:
    """Active admins of the organization: who may be designated, and who is told of a use."""
    query = (
        select(User)
        .join(Membership)
        .where(
            Membership.organization_id == organization.id,
            Membership.role.in_(ADMIN_ROLES),
            User.active.is_(True),
        )
        .order_by(User.email)
    )
    return list(db.session.scalars(query).unique())


def accounts_of(organization: Organization) -> list[BreakGlassAccount]:
    """The organization's current break-glass accounts."""
    return list(
        db.session.scalars(
            select(BreakGlassAccount)
            .join(User, User.id == BreakGlassAccount.user_id)
            .where(
                BreakGlassAccount.organization_id == organization.id,
                BreakGlassAccount.revoked_at.is_(None),
            )
            .order_by(User.email)
        )
    )


def candidates(organization: Organization) -> list[User]:
    """Admins of the organization who are not break-glass yet."""
    current = {a.user_id for a in accounts_of(organization)}
    return [u for u in admins_of(organization) if u.id not in current]


def _row_of(user_id: int) -> BreakGlassAccount | None:
    return db.session.scalar(select(BreakGlassAccount).where(BreakGlassAccount.user_id == user_id))


def grant(organization: Organization, user: User, actor: User) -> BreakGlassAccount:
    if not may_manage(actor, organization):
        raise BreakGlassError("Only a procurement admin or this organization's admin may do that.")
    if not user.active or not is_org_admin(user, organization.id):
        raise BreakGlassError(f"{user.email} is not an active admin of {organization.name}.")
    row = _row_of(user.id)
    if row is not None and row.is_active and row.organization_id == organization.id:
        raise BreakGlassError(f"{user.email} already has break-glass access.")
    if row is None:
        row = BreakGlassAccount(user_id=user.id)
        db.session.add(row)
    row.organization_id, row.granted_by_id = organization.id, actor.id
    row.granted_at, row.revoked_at = utcnow(), None
    db.session.flush()
    record(
        "federation.break_glass_granted",
        actor=actor,
        organization_id=organization.id,
        target=user,
        details={"user_id": user.id, "email": user.email},
    )
    return row


def revoke(organization: Organization, user_id: int, actor: User) -> None:
    if not may_manage(actor, organization):
        raise BreakGlassError("Only a procurement admin or this organization's admin may do that.")
    row = _row_of(user_id)
    if row is None or not row.is_active or row.organization_id != organization.id:
        raise BreakGlassError("That person does not have break-glass access.")
    row.revoked_at = utcnow()
    record(
        "federation.break_glass_revoked",
        actor=actor,
        organization_id=organization.id,
        target=row.user,
        details={"user_id": row.user_id, "email": row.user.email},
    )


# -- at sign-in (handed to accounts through app.accounts.external) ------------------------------
def allowed(user: User, provider: IdentityProvider) -> bool:
    """Whether `user` may take the password (and second factor) despite `provider` being
    required: an active grant for the provider's organization, and still an admin there."""
    row = _row_of(user.id)
    return (
        row is not None
        and row.is_active
        and row.organization_id == provider.organization_id
        and user.active
        and is_org_admin(user, provider.organization_id)
    )


def used(user: User, provider: IdentityProvider, second_factor: str | None) -> None:
    """A break-glass sign-in completed: audit it and tell the organization's other admins."""
    organization = provider.organization
    record(
        "auth.break_glass_used",
        actor=user,
        organization_id=organization.id,
        target=user,
        details={"provider_id": provider.id, "second_factor": second_factor},
    )
    others = [u.email for u in admins_of(organization) if u.id != user.id]
    mail.send(
        others,
        f"Break-glass sign-in by {user.email}",
        "break_glass_used",
        org=organization,
        user=user,
        provider=provider,
        at=utcnow(),
    )
