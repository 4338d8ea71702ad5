"""Security headers on every kind of answer (app/headers.py), and production's session cookie."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.orgs.models import OrgStatus
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import PDF, upload

EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def assert_page_headers(response) -> None:
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    csp = _csp(response)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    # Tests run without HTTPS: no HSTS outside production.
    assert "Strict-Transport-Security" not in response.headers


def assert_api_headers(response) -> None:
    for name, value in EVERY_ANSWER.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert _csp(response)["frame-ancestors"] == ["'none'"]


def test_public_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_page_headers(response)


def test_signed_in_supplier_page(client):
    org = OrganizationFactory(status=OrgStatus.ACTIVE)
    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=org)
    login(client, user.email, PASSWORD)
    for path in ("/home", "/team"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_page_headers(response)


def test_staff_page(client):
    user = UserFactory(role=Role.PROCUREMENT_ADMIN)
    login(client, user.email, PASSWORD)
    response = client.get("/admin/users")
    assert response.status_code == 200
    assert_page_headers(response)


def test_error_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert_page_headers(response)


def test_problem_json_api_answer(client):
    response = client.get("/api/v1/invoices")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert_api_headers(response)
    assert _csp(response)["default-src"] == ["'none'"]


def test_openapi_docs_page_and_document(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert_page_headers(page)
    html = page.get_data(as_text=True)
    assert "<script" not in html
    assert "style=" not in html
    assert_api_headers(client.get("/api/openapi.json"))


def test_static_file(client):
    response = client.get("/static/portal.css")
    assert response.status_code == 200
    assert_api_headers(response)
    response.close()


def test_file_download(client, app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    org = OrganizationFactory(status=OrgStatus.DRAFT, country=None)
    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=org)
    login(client, user.email, PASSWORD)
    upload(client, org.id, "W9", PDF, "w9.pdf")
    page = client.get(f"/organizations/{org.id}/documents").get_data(as_text=True)
    href = next(
        part.split('"', 1)[0]
        for part in page.split('href="')[1:]
        if part.startswith(f"/organizations/{org.id}/documents/")
    )
    response = client.get(href)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert_api_headers(response)
    response.close()


@pytest.fixture
def production_app(app):
    """The production configuration with real secrets, on the test database and Redis."""
    return create_app(
        "production",
        {
            "SECRET_KEY": "p" * 40,
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "SERVER_NAME": "portal.test",
            "OAUTH_ISSUER": "https://portal.test",
        },
    )


def test_production_sends_hsts_and_secure_session_cookies(production_app):
    assert production_app.config["SESSION_COOKIE_SECURE"] is True
    assert production_app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    client = production_app.test_client()
    response = client.get("/login", base_url="https://portal.test")
    assert response.status_code == 200
    hsts = response.headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=")
    assert int(hsts.split("=")[1].split(";")[0]) >= 31536000
    cookie = response.headers["Set-Cookie"]  # the CSRF token lives in the session cookie
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly"} <= attributes
    assert "SameSite=Lax" in cookie
    with production_app.app_context():
        from app.db import db

        db.engine.dispose()
