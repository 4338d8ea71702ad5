"""Signing in and out through the browser form: CSRF, throttling, session rotation, timeouts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.accounts.models import UserSession
from app.db import db
from app.extensions import login_manager
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory


def test_login_page_is_served_with_a_csrf_token(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "Sign in" in page.get_data(as_text=True)
    assert csrf_token(page.get_data(as_text=True))


def test_user_signs_in_and_lands_on_home(client):
    user = UserFactory(email="ana@acme.example", role=Role.SUPPLIER_USER)
    response = login(client, "ANA@acme.example ", PASSWORD, follow=True)
    assert response.status_code == 200
    assert "ana@acme.example" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(email="ana@acme.example")
    response = login(client, "ana@acme.example", "wrong password!")
    assert response.status_code == 401
    assert "do not match an active account" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(client):
    UserFactory(email="ana@acme.example")
    response = client.post("/login", data={"email": "ana@acme.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True).lower()


def test_bad_logins_are_throttled_per_account(client, app):
    UserFactory(email="ana@acme.example")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert login(client, "ana@acme.example", "wrong password!").status_code == 401
    # Even the right password is refused while the account is throttled.
    response = login(client, "ana@acme.example", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_bad_logins_are_throttled_per_ip_across_accounts(client, app):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    try:
        UserFactory(email="victim@acme.example")
        for n in range(3):
            login(client, f"guess{n}@acme.example", "wrong password!")
        assert login(client, "victim@acme.example", PASSWORD).status_code == 429
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_IP"] = 20


def test_session_id_is_rotated_at_login(client):
    UserFactory(email="ana@acme.example")
    client.get("/login")
    with client.session_transaction() as session:
        session["sid"] = "attacker-chosen-id"
    login(client, "ana@acme.example", PASSWORD)
    with client.session_transaction() as session:
        assert session["sid"] != "attacker-chosen-id"
    assert db.session.scalar(select(UserSession).where(UserSession.ended_at.is_(None)))


def _age_session(**delta) -> None:
    row = db.session.scalar(select(UserSession))
    row.created_at -= dt.timedelta(**delta.get("created", {}))
    row.last_seen_at -= dt.timedelta(**delta.get("seen", {}))
    db.session.commit()


def test_idle_timeout_signs_the_user_out(client):
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    _age_session(seen={"minutes": 31})
    response = client.get("/home")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    page = client.get("/login").get_data(as_text=True)
    assert "30 minutes without activity" in page


def test_absolute_timeout_after_twelve_hours(client):
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    _age_session(created={"hours": 12, "minutes": 1})
    assert client.get("/home").status_code == 302
    assert "12-hour limit" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(
    ("aged", "message"),
    [
        ({"seen": {"minutes": 11}}, "after 10 minutes without activity"),
        ({"created": {"hours": 8, "minutes": 1}}, "its 8-hour limit"),
    ],
)
def test_the_timeout_messages_follow_the_configured_limits(app, client, monkeypatch, aged, message):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 10)
    monkeypatch.setitem(app.config, "SESSION_ABSOLUTE_HOURS", 8)
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    _age_session(**aged)
    assert client.get("/home").status_code == 302
    assert message in client.get("/login").get_data(as_text=True)


def test_active_session_within_limits_keeps_working(client):
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    _age_session(seen={"minutes": 29}, created={"hours": 11})
    assert client.get("/home").status_code == 200


def test_logout_ends_the_session_and_needs_csrf(client):
    UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    assert client.post("/logout").status_code == 400  # no CSRF token
    token = csrf_token(client.get("/home").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/home").status_code == 302
    row = db.session.scalar(select(UserSession))
    assert row.end_reason == "logout"


def test_disabled_user_loses_their_sessions(client):
    user = UserFactory(email="ana@acme.example")
    login(client, "ana@acme.example", PASSWORD)
    assert client.get("/home").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/home").status_code == 302
    assert "disabled" in client.get("/login").get_data(as_text=True)


def test_next_parameter_cannot_redirect_off_site(client):
    UserFactory(email="ana@acme.example")
    page = client.get("/login?next=https://evil.example/")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": "ana@acme.example", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/home")


def test_login_manager_points_at_the_login_page():
    assert login_manager.login_view == "accounts.login"
