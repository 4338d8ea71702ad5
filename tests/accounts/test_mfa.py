"""Two-step verification for password sign-ins: setting up an authenticator app with a QR code
and recovery codes, the code step at sign-in, staff made to set it up before their session
exists, and `require_recent_mfa` on sensitive pages (SSO sessions pass)."""

from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
import pytest
from flask import request
from sqlalchemy import select, text

from app import create_app
from app.accounts import mfa
from app.accounts.access import require_role
from app.accounts.mfa import require_recent_mfa
from app.accounts.models import RecoveryCode, UserSession
from app.audit.models import AuditEntry
from app.db import db
from app.orgs.roles import Role
from tests.conftest import TOTP_SECRET_RE, UNREACHABLE_ERP, IsolatedClient, csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.federation.helpers import approved_provider, person, register_portal, sso_sign_in

RECOVERY_RE = re.compile(r"<li><code>([a-z2-9]{4}(?:-[a-z2-9]{4}){3})</code></li>")


class Clock:
    """The clock codes are checked against: tests step it instead of waiting 30 seconds."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def code(self, secret: str) -> str:
        return pyotp.TOTP(secret).at(self.now)

    def tick(self) -> None:
        self.now += 30


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(mfa, "time", clock)
    return clock


def _enrol(client, clock: Clock, path: str = "/account/mfa/setup") -> tuple[str, list[str]]:
    page = client.get(path)
    html = page.get_data(as_text=True)
    secret = TOTP_SECRET_RE.search(html).group(1).replace(" ", "")
    codes = RECOVERY_RE.findall(html)
    done = client.post(path, data={"code": clock.code(secret), "csrf_token": csrf_token(html)})
    assert done.status_code == 302, done.get_data(as_text=True)
    return secret, codes


def _enrolled_supplier(client, clock, email="ana@acme.example", **kwargs):
    UserFactory(email=email, role=kwargs.pop("role", Role.SUPPLIER_USER), **kwargs)
    login(client, email, PASSWORD)
    return _enrol(client, clock)


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_setting_up_shows_a_qr_code_a_key_and_recovery_codes(client, clock):
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)

    page = client.get("/account/mfa/setup")

    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert '<svg width="' in html
    assert "QR code for your authenticator app" in html
    secret = TOTP_SECRET_RE.search(html).group(1).replace(" ", "")
    assert len(secret) == 32
    codes = RECOVERY_RE.findall(html)
    assert len(set(codes)) == 10

    wrong = client.post(
        "/account/mfa/setup", data={"code": "000000", "csrf_token": csrf_token(html)}
    )
    assert wrong.status_code == 401
    assert "does not match" in wrong.get_data(as_text=True)


def test_secret_and_recovery_codes_are_not_stored_in_clear(client, clock):
    secret, codes = _enrolled_supplier(client, clock)
    stored_secret = db.session.execute(text("SELECT secret FROM totp_credentials")).scalar()
    assert secret not in stored_secret
    hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10
    assert not {c.replace("-", "") for c in codes} & set(hashes)
    assert "mfa.enrolled" in _actions()
    assert "Recovery codes left: <strong>10</strong>" in client.get("/account/security").get_data(
        as_text=True
    )


def test_enrolled_user_gives_a_code_after_the_password(client, app, clock):
    secret, _ = _enrolled_supplier(client, clock)
    clock.tick()
    browser = app.test_client()

    step = login(browser, "ana@acme.example", PASSWORD)

    assert step.headers["Location"].endswith("/login/verify")
    assert browser.get("/home").status_code == 302  # no session yet
    page = browser.get("/login/verify").get_data(as_text=True)
    wrong = browser.post("/login/verify", data={"code": "123456", "csrf_token": csrf_token(page)})
    assert wrong.status_code == 401
    right = browser.post(
        "/login/verify", data={"code": clock.code(secret), "csrf_token": csrf_token(page)}
    )
    assert right.headers["Location"].endswith("/home")
    assert browser.get("/home").status_code == 200
    rows = db.session.scalars(select(UserSession).order_by(UserSession.id)).all()
    assert rows[-1].mfa_verified_at is not None


def test_each_code_works_only_once(client, app, clock):
    secret, _ = _enrolled_supplier(client, clock)  # uses the current code
    replayed = login(app.test_client(), "ana@acme.example", PASSWORD, mfa_code=clock.code(secret))
    assert replayed.status_code == 401
    clock.tick()
    fresh = login(app.test_client(), "ana@acme.example", PASSWORD, mfa_code=clock.code(secret))
    assert fresh.status_code == 302


def test_a_recovery_code_signs_in_once(client, app, clock):
    _, codes = _enrolled_supplier(client, clock)
    first = app.test_client()
    assert login(first, "ana@acme.example", PASSWORD, mfa_code=codes[0].upper()).status_code == 302
    assert "recovery code; 9 left" in first.get("/home").get_data(as_text=True)
    again = login(app.test_client(), "ana@acme.example", PASSWORD, mfa_code=codes[0])
    assert again.status_code == 401
    assert "mfa.recovery_code_used" in _actions()


def test_new_recovery_codes_replace_the_old_ones(client, app, clock):
    secret, old = _enrolled_supplier(client, clock)
    clock.tick()
    token = csrf_token(client.get("/account/security").get_data(as_text=True))
    page = client.post(
        "/account/mfa/recovery-codes", data={"code": clock.code(secret), "csrf_token": token}
    )
    new = RECOVERY_RE.findall(page.get_data(as_text=True))
    assert page.headers["Cache-Control"] == "no-store"
    assert len(new) == 10
    assert not set(new) & set(old)
    assert (
        login(app.test_client(), "ana@acme.example", PASSWORD, mfa_code=old[1]).status_code == 401
    )
    assert (
        login(app.test_client(), "ana@acme.example", PASSWORD, mfa_code=new[1]).status_code == 302
    )


def test_codes_are_throttled_like_passwords(client, app, clock):
    secret, _ = _enrolled_supplier(client, clock)
    clock.tick()
    browser = app.test_client()
    login(browser, "ana@acme.example", PASSWORD)
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        page = browser.get("/login/verify").get_data(as_text=True)
        browser.post("/login/verify", data={"code": "999999", "csrf_token": csrf_token(page)})
    page = browser.get("/login/verify").get_data(as_text=True)
    right = browser.post(
        "/login/verify", data={"code": clock.code(secret), "csrf_token": csrf_token(page)}
    )
    assert right.status_code == 429
    assert "Too many failed sign-ins" in right.get_data(as_text=True)


def test_the_code_step_expires(client, app, clock):
    _enrolled_supplier(client, clock)
    clock.tick()
    browser = app.test_client()
    login(browser, "ana@acme.example", PASSWORD)
    with browser.session_transaction() as session:
        pending = session["pending_sign_in"]
        pending["at"] -= 301
        session["pending_sign_in"] = pending
    response = browser.get("/login/verify")
    assert response.headers["Location"].endswith("/login")


def test_staff_set_up_mfa_before_their_session_exists(client):
    UserFactory(email="fran@hospital.example", role=Role.FINANCE_CLERK)
    page = client.get("/login")
    step = client.post(
        "/login",
        data={
            "email": "fran@hospital.example",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )

    assert step.headers["Location"].endswith("/account/mfa/setup")
    assert client.get("/home").status_code == 302
    assert client.get("/account/security").status_code == 302
    assert db.session.scalar(select(UserSession)) is None
    html = client.get("/account/mfa/setup").get_data(as_text=True)
    assert "Your role needs a second factor" in html

    secret = TOTP_SECRET_RE.search(html).group(1).replace(" ", "")
    done = client.post(
        "/account/mfa/setup",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(html)},
    )
    assert done.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    row = db.session.scalar(select(UserSession))
    assert (row.auth_method, row.mfa_verified_at is not None) == ("password", True)


def test_staff_cannot_turn_mfa_off_but_suppliers_can(client, app, clock):
    UserFactory(email="olive@hospital.example", role=Role.OPS)
    login(client, "olive@hospital.example", PASSWORD)  # enrols on the way
    security = client.get("/account/security").get_data(as_text=True)
    assert "cannot be turned off" in security

    secret, _ = _enrolled_supplier(browser := app.test_client(), clock)
    clock.tick()
    token = csrf_token(browser.get("/account/security").get_data(as_text=True))
    browser.post("/account/mfa/disable", data={"code": clock.code(secret), "csrf_token": token})
    assert "Two-step verification is off" in browser.get("/account/security").get_data(as_text=True)
    assert "mfa.disabled" in _actions()


# -- require_recent_mfa -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def bank_app():
    """A portal with one sensitive page guarded the way the bank-details form is."""
    bank = create_app("testing", {"ERP_URL": UNREACHABLE_ERP})

    @bank.route("/bank-details", methods=["GET", "POST"])
    @require_role(Role.SUPPLIER_ADMIN)
    @require_recent_mfa
    def bank_details():
        return f"bank details form ({request.method})"

    bank.test_client_class = IsolatedClient
    return bank


@pytest.fixture
def bank(bank_app, app):
    return bank_app.test_client()


def test_sensitive_page_first_asks_a_user_without_mfa_to_set_it_up(bank, clock):
    UserFactory(email="boss@acme.example", role=Role.SUPPLIER_ADMIN)
    login(bank, "boss@acme.example", PASSWORD)

    response = bank.get("/bank-details")

    assert response.headers["Location"].endswith("/account/mfa/setup?next=/bank-details")
    _enrol(bank, clock, "/account/mfa/setup?next=/bank-details")
    assert bank.get("/bank-details").get_data(as_text=True) == "bank details form (GET)"


def test_sensitive_page_asks_again_for_a_code_after_fifteen_minutes(bank, clock):
    secret, _ = _enrolled_supplier(bank, clock, "boss@acme.example", role=Role.SUPPLIER_ADMIN)
    assert bank.get("/bank-details").status_code == 200  # the set-up just checked a code

    row = db.session.scalar(select(UserSession))
    row.mfa_verified_at -= dt.timedelta(minutes=16)
    db.session.commit()
    token = csrf_token(bank.get("/account/security").get_data(as_text=True))
    posted = bank.post("/bank-details", data={"csrf_token": token})
    assert posted.headers["Location"].endswith("/account/mfa/verify?next=/bank-details")

    clock.tick()
    page = bank.get("/account/mfa/verify?next=/bank-details").get_data(as_text=True)
    back = bank.post(
        "/account/mfa/verify?next=/bank-details",
        data={"code": clock.code(secret), "csrf_token": csrf_token(page)},
    )
    assert back.headers["Location"].endswith("/bank-details")
    assert bank.get("/bank-details").status_code == 200
    assert "mfa.step_up" in _actions()


def test_sensitive_page_lets_sso_sessions_through(bank, oidc):
    register_portal(oidc)
    acme = OrganizationFactory(name="Acme Implants")
    approved_provider(acme, oidc, jit_enabled=True, jit_role=Role.SUPPLIER_ADMIN)
    oidc.set_user("boss", **person("boss@acme.example"))

    assert sso_sign_in(bank, "boss@acme.example", "boss").status_code == 302

    assert bank.get("/bank-details").get_data(as_text=True) == "bank details form (GET)"
