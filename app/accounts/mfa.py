"""A second factor for password sign-ins: authenticator-app (TOTP) enrolment and checks,
one-time recovery codes, and `require_recent_mfa` for sensitive pages such as bank details.

People who signed in through their company's identity provider are never asked: their
provider owns their authentication. Services here add and flush; the views commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
import segno
from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import delete, func, select

from app.accounts import sessions
from app.accounts.models import RecoveryCode, TotpCredential, User
from app.accounts.services import is_throttled, record_failed_attempt
from app.audit.services import record
from app.db import db, utcnow
from app.orgs.roles import STAFF_ROLES

ISSUER_NAME = "Supplier Portal"  # what authenticator apps show next to the account
MFA_REQUIRED_ROLES = STAFF_ROLES  # finance, procurement and ops sign in with a second factor
RECENT_MFA = dt.timedelta(minutes=15)  # how long a check covers sensitive changes
RECOVERY_CODE_COUNT = 10
# 31 symbols without look-alikes (0/o, 1/l/i); 16 of them carry ~79 bits, so SHA-256 suffices.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 16
# Reloading the set-up page within this time keeps the secret the phone may have scanned.
PENDING_SECRET_REUSE = dt.timedelta(minutes=10)
THROTTLED = "Too many failed sign-ins. Wait 15 minutes and try again."


class MfaError(ValueError):
    """A request that the account's MFA state does not allow; the message is for the user."""


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    method: str | None = None  # "totp" or "recovery_code"
    error: str | None = None
    throttled: bool = False


# -- state ------------------------------------------------------------------------------------
def credential_for(user: User) -> TotpCredential | None:
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))


def is_enrolled(user: User) -> bool:
    credential = credential_for(user)
    return credential is not None and credential.is_confirmed


def required_for(user: User) -> bool:
    return user.has_role(*MFA_REQUIRED_ROLES)


def step_at_sign_in(user: User) -> str | None:
    """What a correct password still needs: "verify" a code, "enrol" first, or None."""
    if is_enrolled(user):
        return "verify"
    return "enrol" if required_for(user) or user.mfa_enrol_required else None


def remaining_recovery_codes(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


# -- enrolment --------------------------------------------------------------------------------
def begin_enrolment(user: User) -> tuple[TotpCredential, list[str]]:
    """A (pending) secret to scan and fresh recovery codes, shown once on the set-up page."""
    credential = credential_for(user)
    if credential is not None and credential.is_confirmed:
        raise MfaError("Two-step verification is already on for this account.")
    if credential is None:
        credential = TotpCredential(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(credential)
    elif utcnow() - credential.created_at > PENDING_SECRET_REUSE:
        credential.secret, credential.created_at = pyotp.random_base32(), utcnow()
    codes = _replace_recovery_codes(user)
    db.session.flush()
    return credential, codes


def confirm_enrolment(user: User, code: str, ip_address: str) -> CodeCheck:
    """Turn MFA on once the first code from the app matches the pending secret."""
    credential = credential_for(user)
    if credential is None or credential.is_confirmed:
        return CodeCheck(False, error="Start the set-up again from this page.")
    if is_throttled(user.email, ip_address):
        return CodeCheck(False, error=THROTTLED, throttled=True)
    if not _totp_matches(credential, code):
        record_failed_attempt(user.email, ip_address, "mfa.enrolment_failed")
        return CodeCheck(False, error="That code does not match. Check the time on your phone.")
    credential.confirmed_at = utcnow()
    user.mfa_enrol_required = False
    record("mfa.enrolled", actor=user, target=user, organization_id=_org_id(user))
    return CodeCheck(True, "totp")


def provisioning_uri(user: User, credential: TotpCredential) -> str:
    return pyotp.TOTP(credential.secret).provisioning_uri(name=user.email, issuer_name=ISSUER_NAME)


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (no image request, nothing leaves the page)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#1d2733", title="QR code for your authenticator app"
    )
    return Markup(svg)  # noqa: S704 - segno's own SVG of a URI we built; no user HTML in it


def readable_secret(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# -- checking codes ---------------------------------------------------------------------------
def check_code(user: User, code: str, ip_address: str) -> CodeCheck:
    """A current authenticator code or an unused recovery code; failures count towards the
    same throttle as wrong passwords."""
    if is_throttled(user.email, ip_address):
        record_failed_attempt(user.email, ip_address, "mfa.code_throttled")
        return CodeCheck(False, error=THROTTLED, throttled=True)
    credential = credential_for(user)
    if credential is None or not credential.is_confirmed:
        return CodeCheck(False, error="Two-step verification is not set up for this account.")
    if _totp_matches(credential, code):
        return CodeCheck(True, "totp")
    if _use_recovery_code(user, code):
        record("mfa.recovery_code_used", actor=user, target=user, organization_id=_org_id(user))
        return CodeCheck(True, "recovery_code")
    record_failed_attempt(user.email, ip_address, "mfa.code_failed")
    return CodeCheck(False, error="That code is not valid. Try the newest code from your app.")


def _totp_matches(credential: TotpCredential, code: str) -> bool:
    """One step either side of now is accepted (phone clocks drift), each step only once."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(credential.secret)
    current = int(time.time()) // totp.interval
    last = credential.last_used_step if credential.last_used_step is not None else -1
    for step in (current - 1, current, current + 1):
        if step > last and hmac.compare_digest(totp.generate_otp(step), code):
            credential.last_used_step = step
            return True
    return False


# -- recovery codes ---------------------------------------------------------------------------
def regenerate_recovery_codes(user: User) -> list[str]:
    """New codes replace every old one (used or not); shown to the user once."""
    if not is_enrolled(user):
        raise MfaError("Set up two-step verification first.")
    codes = _replace_recovery_codes(user)
    record("mfa.recovery_codes_regenerated", actor=user, target=user, organization_id=_org_id(user))
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(c)) for c in codes)
    return codes


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def _hash_code(code: str) -> str:
    normalized = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normalized.encode()).hexdigest()


def _use_recovery_code(user: User, code: str) -> bool:
    row = db.session.scalar(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def disable(user: User) -> None:
    """Turn MFA off; refused for roles that must keep it."""
    if required_for(user):
        raise MfaError("Your role requires two-step verification; it cannot be turned off.")
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    record("mfa.disabled", actor=user, target=user, organization_id=_org_id(user))


def _org_id(user: User) -> int | None:
    return user.organization.id if user.organization else None


# -- step-up for sensitive pages --------------------------------------------------------------
def mark_session_verified() -> None:
    row = sessions.current()
    if row is not None:
        row.mfa_verified_at = utcnow()


def has_recent_mfa(max_age: dt.timedelta = RECENT_MFA) -> bool:
    """True for SSO sessions, and for password sessions whose code was checked within max_age."""
    row = sessions.current()
    if row is None:
        return False
    if row.auth_method == "sso":
        return True
    return row.mfa_verified_at is not None and utcnow() - row.mfa_verified_at <= max_age


def require_recent_mfa(
    view: Callable | None = None, *, max_age: dt.timedelta = RECENT_MFA
) -> Callable:
    """Decorate a view that changes something sensitive (bank details).

    A password-signed-in user without a code checked in the last `max_age` is sent to enter
    one (or to set up MFA first, if they have none) and comes back to this page afterwards;
    a POST is not replayed, so the form is shown again. SSO sessions pass straight through.
    Use as `@require_recent_mfa` or `@require_recent_mfa(max_age=dt.timedelta(minutes=5))`,
    below `@require_role(...)`."""

    def decorator(inner: Callable) -> Callable:
        @functools.wraps(inner)
        @login_required
        def wrapper(*args, **kwargs):
            if has_recent_mfa(max_age):
                return inner(*args, **kwargs)
            flash("Confirm it is you with your authenticator app to continue.", "info")
            endpoint = "mfa.step_up" if is_enrolled(current_user) else "mfa.setup"
            return redirect(url_for(endpoint, next=_return_path()))

        return wrapper

    return decorator(view) if view is not None else decorator


def _return_path() -> str:
    """Where to come back to: this page (a POST comes back as a GET of the same page)."""
    if request.method == "GET" and request.query_string:
        return request.full_path
    return request.path
