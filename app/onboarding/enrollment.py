"""Two ways in: an admin's invitation or a company's own registration, both by a mailed link.

The link carries a random token (only its hash is stored), works once and expires. Using it
proves the email address; only then are the organization and its first admin created.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from sqlalchemy import func, select

from app import mail
from app.accounts import services as accounts
from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.onboarding.errors import ConflictOfInterest, OnboardingError
from app.onboarding.models import Enrollment, EnrollmentVia, Profile
from app.orgs.models import Organization, OrgKind
from app.orgs.roles import Role

ADMIN_ROLE = {OrgKind.SUPPLIER: Role.SUPPLIER_ADMIN, OrgKind.PARTNER: Role.PARTNER_ADMIN}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lifetime(via: EnrollmentVia) -> dt.timedelta:
    cfg = current_app.config
    if via == EnrollmentVia.INVITATION:
        return dt.timedelta(days=int(cfg.get("ONBOARDING_INVITATION_DAYS") or 7))
    return dt.timedelta(hours=int(cfg.get("ONBOARDING_VERIFY_HOURS") or 48))


def organization_name_taken(name: str) -> bool:
    lowered = name.strip().lower()
    return bool(
        db.session.scalar(select(Organization.id).where(func.lower(Organization.name) == lowered))
    )


def _email_taken(email: str) -> bool:
    return bool(db.session.scalar(select(User.id).where(User.email == email)))


def _new_enrollment(
    via: EnrollmentVia, email: str, company: str, kind: OrgKind, contact: str, *, invited_by=None
) -> tuple[Enrollment, str]:
    if kind not in ADMIN_ROLE:
        raise OnboardingError("Only suppliers and partners can be onboarded.")
    token = secrets.token_urlsafe(32)
    enrollment = Enrollment(
        via=via,
        kind=kind,
        email=accounts.normalize_email(email),
        company_name=company.strip(),
        contact_name=contact.strip(),
        token_hash=_hash(token),
        expires_at=utcnow() + _lifetime(via),
        invited_by_id=getattr(invited_by, "id", None),
    )
    db.session.add(enrollment)
    db.session.flush()
    return enrollment, token


def invite(email: str, company: str, kind: OrgKind, contact: str, *, actor: User) -> Enrollment:
    """A procurement admin invites a company; its contact gets a single-use link."""
    email = accounts.normalize_email(email)
    if organization_name_taken(company):
        raise OnboardingError(f"An organization named {company.strip()!r} already exists.")
    if _email_taken(email):
        raise OnboardingError(f"{email} already has an account in the portal.")
    enrollment, token = _new_enrollment(
        EnrollmentVia.INVITATION, email, company, kind, contact, invited_by=actor
    )
    record(
        "onboarding.invited",
        actor=actor,
        target=enrollment,
        details={"email": email, "company": enrollment.company_name, "kind": kind.value},
    )
    _send_invitation(enrollment, token, actor)
    return enrollment


def _send_invitation(enrollment: Enrollment, token: str, actor: User) -> None:
    mail.send(
        [enrollment.email],
        f"You are invited to the supplier portal as {enrollment.company_name}",
        "invitation",
        enrollment=enrollment,
        inviter=actor,
        link=mail.portal_url("onboarding.enroll", token=token),
    )


def invitation_by_id(enrollment_id: int) -> Enrollment | None:
    query = select(Enrollment).where(
        Enrollment.id == enrollment_id, Enrollment.via == EnrollmentVia.INVITATION
    )
    return db.session.scalar(query.with_for_update())


def _check_open(enrollment: Enrollment, doing: str) -> None:
    if enrollment.used_at is not None:
        raise OnboardingError(f"This invitation was already accepted; it cannot be {doing}.")
    if enrollment.revoked_at is not None:
        raise OnboardingError(f"This invitation was revoked; it cannot be {doing}.")


def resend(enrollment: Enrollment, *, actor: User) -> None:
    """A new single-use link with a new lifetime; the old link stops working at once (only the
    new token's hash is kept)."""
    _check_open(enrollment, "resent")
    token = secrets.token_urlsafe(32)
    enrollment.token_hash = _hash(token)
    enrollment.expires_at = utcnow() + _lifetime(enrollment.via)
    record(
        "onboarding.invitation_resent",
        actor=actor,
        target=enrollment,
        details={"email": enrollment.email, "expires_at": enrollment.expires_at.isoformat()},
    )
    _send_invitation(enrollment, token, actor)


def revoke(enrollment: Enrollment, *, actor: User) -> None:
    """Withdraw an invitation: its link no longer works."""
    _check_open(enrollment, "revoked")
    enrollment.revoked_at = utcnow()
    record(
        "onboarding.invitation_revoked",
        actor=actor,
        target=enrollment,
        details={"email": enrollment.email, "company": enrollment.company_name},
    )


def register(email: str, company: str, kind: OrgKind, contact: str) -> Enrollment | None:
    """A company registers itself; nothing exists until the mailed link is opened.

    An address that already has an account gets a notice instead, and the caller answers the
    same either way, so the form does not reveal who is registered.
    """
    email = accounts.normalize_email(email)
    if _email_taken(email):
        mail.send([email], "Someone tried to register with your address", "already_registered")
        record("onboarding.registration_refused", actor_label=email, details={"email": email})
        return None
    enrollment, token = _new_enrollment(EnrollmentVia.REGISTRATION, email, company, kind, contact)
    record(
        "onboarding.registered",
        actor_label=email,
        target=enrollment,
        details={"email": email, "company": enrollment.company_name, "kind": kind.value},
    )
    mail.send(
        [email],
        "Confirm your email address for the supplier portal",
        "verify_email",
        enrollment=enrollment,
        link=mail.portal_url("onboarding.enroll", token=token),
    )
    return enrollment


def find_usable(token: str, *, lock: bool = False) -> Enrollment | None:
    """The enrollment behind a link, if it is unused and unexpired."""
    query = select(Enrollment).where(Enrollment.token_hash == _hash(token))
    enrollment = db.session.scalar(query.with_for_update() if lock else query)
    if (
        enrollment is None
        or enrollment.used_at is not None
        or enrollment.revoked_at is not None
        or enrollment.expires_at <= utcnow()
    ):
        return None
    return enrollment


def complete(token: str, name: str, password: str) -> User:
    """Use the link: create the organization (DRAFT), its profile and its first admin."""
    enrollment = find_usable(token, lock=True)
    if enrollment is None:
        raise OnboardingError("This link has expired or was already used.")
    if organization_name_taken(enrollment.company_name):
        raise OnboardingError(
            f"An organization named {enrollment.company_name!r} already exists; "
            "ask your administrator to invite you to it."
        )
    org = Organization(name=enrollment.company_name, kind=enrollment.kind)
    db.session.add(org)
    db.session.flush()
    db.session.add(Profile(organization=org, contacts={}))
    try:
        user = accounts.create_user(
            enrollment.email, password, org, ADMIN_ROLE[enrollment.kind], name=name.strip()
        )
    except accounts.AccountError as exc:
        raise OnboardingError(str(exc)) from None
    enrollment.used_at, enrollment.organization_id = utcnow(), org.id
    record(
        "onboarding.enrolled",
        actor=user,
        organization_id=org.id,
        target=org,
        details={
            "via": enrollment.via.value,
            "email": enrollment.email,
            "after": {"status": org.status.value, "kind": org.kind.value},
        },
    )
    return user


def inviter_ids(org: Organization) -> set[int]:
    """Who invited this organization (they may not approve it)."""
    query = select(Enrollment.invited_by_id).where(
        Enrollment.organization_id == org.id, Enrollment.invited_by_id.is_not(None)
    )
    return {i for i in db.session.scalars(query) if i is not None}


def check_no_conflict(org: Organization, actor) -> None:
    """Nobody decides about an organization they belong to or invited.

    Review, bank approval and screening overrides all ask, so it sits here, below them."""
    if any(m.organization_id == org.id for m in actor.memberships):
        raise ConflictOfInterest("You belong to this organization, so you cannot review it.")
    if actor.id in inviter_ids(org):
        raise ConflictOfInterest("You invited this organization, so another admin must review it.")


def pending_invitations(limit: int = 100) -> list[Enrollment]:
    query = (
        select(Enrollment)
        .where(Enrollment.via == EnrollmentVia.INVITATION)
        .order_by(Enrollment.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
