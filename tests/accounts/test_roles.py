"""Each role sees its own navigation and is refused the pages of other roles."""

from __future__ import annotations

import pytest

from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory

STAFF_PAGES = {
    "/finance/purchase-orders": {Role.FINANCE_CLERK, Role.FINANCE_MANAGER, Role.PROCUREMENT_ADMIN},
    "/admin/organizations": {Role.PROCUREMENT_ADMIN},
    "/admin/users": {Role.PROCUREMENT_ADMIN, Role.OPS},
    "/ops/audit": {Role.OPS, Role.PROCUREMENT_ADMIN, Role.FINANCE_MANAGER},
}


def _signed_in(client, role: Role):
    UserFactory(email=f"{role.value}@example.com", role=role)
    login(client, f"{role.value}@example.com", PASSWORD)
    return client


@pytest.mark.parametrize("path", list(STAFF_PAGES))
def test_supplier_user_cannot_open_staff_pages(client, path):
    _signed_in(client, Role.SUPPLIER_USER)
    response = client.get(path)
    assert response.status_code == 403
    assert "Your role does not give access" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", list(Role))
def test_navigation_depends_on_the_role(client, role):
    _signed_in(client, role)
    page = client.get("/home").get_data(as_text=True)
    for path, allowed in STAFF_PAGES.items():
        assert (f'href="{path}"' in page) == (role in allowed), (role, path)
    assert ('href="/purchase-orders"' in page) == (
        role in {Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN}
    )


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/organizations")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_api_style_callers_get_problem_json_for_403(client):
    _signed_in(client, Role.SUPPLIER_USER)
    response = client.get("/admin/organizations", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 403
