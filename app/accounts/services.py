"""Account use cases: creating users, signing in with throttling, disabling. Never commits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from app.accounts import passwords, sessions
from app.accounts.models import LoginAttempt, User, UserSession
from app.audit.services import record
from app.db import db, utcnow
from app.orgs.models import Membership, Organization
from app.orgs.roles import Role, role_allowed_for


class AccountError(ValueError):
    """A user-facing problem with an account request."""


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    error: str | None = None
    throttled: bool = False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    email: str,
    password: str | None,
    organization: Organization,
    role: Role,
    *,
    name: str = "",
    actor: User | None = None,
) -> User:
    email = normalize_email(email)
    if not role_allowed_for(role, organization.kind.value):
        raise AccountError(
            f"role {role.value} is not available in a {organization.kind.value} organization"
        )
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise AccountError(f"a user with email {email} already exists")
    if password is not None and (problem := passwords.password_problem(password)):
        raise AccountError(problem)
    user = User(
        email=email,
        name=name,
        password_hash=passwords.hash_password(password) if password else None,
    )
    user.memberships.append(Membership(organization=organization, role=role))
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        actor=actor,
        organization_id=organization.id,
        target=user,
        details={"email": email, "role": role.value},
    )
    return user


def _recent_failures(column, value: str) -> int:
    since = utcnow() - dt.timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    return (
        db.session.scalar(
            select(func.count(LoginAttempt.id)).where(
                column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since
            )
        )
        or 0
    )


def is_throttled(email: str, ip_address: str) -> bool:
    cfg = current_app.config
    return (
        _recent_failures(LoginAttempt.email, email) >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or _recent_failures(LoginAttempt.ip_address, ip_address) >= cfg["LOGIN_MAX_FAILURES_PER_IP"]
    )


def check_password(email: str, password: str, ip_address: str) -> SignInResult:
    """Check a password sign-in; every attempt is recorded, throttled ones included.

    Starts no session: the caller still applies SSO and MFA rules, then calls
    complete_sign_in()."""
    email = normalize_email(email)
    if is_throttled(email, ip_address):
        record_failed_attempt(email, ip_address, "auth.login_throttled")
        return SignInResult(None, "Too many failed sign-ins. Wait 15 minutes and try again.", True)
    user = db.session.scalar(select(User).where(User.email == email))
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        record_failed_attempt(email, ip_address, "auth.login_failed")
        return SignInResult(None, "That email and password do not match an active account.")
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, succeeded=True))
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    return SignInResult(user)


def record_failed_attempt(email: str, ip_address: str, action: str) -> None:
    """Count a failed step (password or second factor) towards throttling, and audit it."""
    db.session.add(LoginAttempt(email=email, ip_address=ip_address, succeeded=False))
    record(action, actor_label=email, details={"email": email})


def complete_sign_in(
    user: User,
    *,
    method: str = "password",
    second_factor: str | None = None,
    provider_id: int | None = None,
    id_token: str | None = None,
) -> UserSession:
    """Start the session of someone who passed every check, noting how they proved who they are.

    `method` is "password" or "sso"; `second_factor` ("totp", "recovery_code") marks the
    session as MFA-verified now."""
    now = utcnow()
    user.last_login_at = now
    row = sessions.start(user)
    row.auth_method = method
    row.mfa_verified_at = now if second_factor else None
    row.identity_provider_id = provider_id
    row.id_token_hint = id_token
    details = {"method": method, "second_factor": second_factor, "provider_id": provider_id}
    record(
        "auth.login",
        actor=user,
        organization_id=user.organization.id if user.organization else None,
        target=user,
        details={k: v for k, v in details.items() if v is not None},
    )
    return row


def set_active(user: User, active: bool, actor: User | None) -> None:
    """Enable or disable a user; disabling ends every session at once."""
    user.active = active
    if not active:
        sessions.end_all_for(user, "user_disabled")
    record(
        "user.enabled" if active else "user.disabled",
        actor=actor,
        target=user,
        organization_id=user.organization.id if user.organization else None,
    )
