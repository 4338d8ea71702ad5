"""Small things a newcomer met in the first hour: a heading that read "Invoice $ KOI-INV-0001",
a red 404 for a supplier whose profile is a draft, the framework's stock 404 sentence, and no
/favicon.ico."""

from __future__ import annotations

import io
import json

import pytest
from bs4 import BeautifulSoup

from app.demo import ROLE_LABELS, demo_logins
from app.orgs.models import OrgStatus
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory

STOCK_404 = "The requested URL was not found on the server"


def _heading(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").h1.get_text().split())


def test_a_json_invoice_is_headed_by_its_number_before_and_after_normalization(client):
    acme = OrganizationFactory(supplier=True)
    UserFactory(email="ap@koi.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@koi.example", PASSWORD)
    body = json.dumps(
        {
            "invoice_number": "KOI-INV-0001",
            "issue_date": "2026-01-15",
            "currency": "USD",
            "supplier": {"name": "Koi Medical"},
            "lines": [{"line_id": "1", "quantity": "1", "line_extension_amount": "5.00"}],
            "totals": {"line_total": "5.00", "payable": "5.00"},
        }
    ).encode()
    token = csrf_token(client.get("/documents/upload").get_data(as_text=True))
    sent = client.post(
        "/documents/upload",
        data={"csrf_token": token, "kind": "invoice", "file": (io.BytesIO(body), "koi.json")},
        content_type="multipart/form-data",
    )
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert _heading(page).startswith("Invoice KOI-INV-0001 ")  # then the state badge
    assert "$" not in _heading(page)


def test_a_draft_supplier_is_told_to_complete_its_profile_instead_of_a_404(client):
    draft = OrganizationFactory(status=OrgStatus.DRAFT)  # a supplier, not yet in the ERP
    UserFactory(email="admin@draft.example", role=Role.SUPPLIER_ADMIN, role__organization=draft)
    login(client, "admin@draft.example", PASSWORD)
    answer = client.get("/purchase-orders")
    assert answer.status_code == 200
    page = BeautifulSoup(answer.get_data(as_text=True), "html.parser")
    text = " ".join(page.main.get_text().split())
    assert "complete it and submit it for review" in text
    link = page.find("a", string="Complete your company profile")
    assert link["href"] == f"/organizations/{draft.id}/profile"


def test_a_supplier_user_of_a_draft_supplier_is_sent_to_its_administrator(client):
    draft = OrganizationFactory(status=OrgStatus.DRAFT)
    UserFactory(email="ap@draft.example", role=Role.SUPPLIER_USER, role__organization=draft)
    login(client, "ap@draft.example", PASSWORD)
    text = client.get("/purchase-orders").get_data(as_text=True)
    assert "ask your company's portal administrator" in text


def test_the_404_page_and_problem_use_our_own_words(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert STOCK_404 not in html
    assert "Page not found" in html
    assert "There is nothing at this address" in html
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.json["detail"].startswith("There is nothing at this address")


def test_a_message_given_at_abort_is_kept(client):
    acme = OrganizationFactory(supplier=True)
    UserFactory(email="ap@abort.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@abort.example", PASSWORD)
    html = client.get("/documents/upload/examples/no-such-format").get_data(as_text=True)
    assert "There is no example in that format." in html


def test_favicon_ico_is_answered(client):
    answer = client.get("/favicon.ico")
    body = answer.get_data()
    answer.close()
    assert answer.status_code == 200
    assert answer.mimetype == "image/svg+xml"
    assert body.startswith(b"<svg")


@pytest.mark.no_db
def test_make_run_prints_the_url_and_one_line_per_demo_login_with_its_role():
    from scripts.run_all import banner

    printed = banner().splitlines()
    assert any("Supplier Portal is up: http://127.0.0.1:" in line for line in printed)
    for email, role in demo_logins():
        (line,) = [line for line in printed if f" {email} " in line]
        assert ROLE_LABELS[Role(role)] in line
    assert sum("@" in line for line in printed) == len(demo_logins())
