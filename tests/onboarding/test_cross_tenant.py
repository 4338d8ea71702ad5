"""Another organization's profile, documents, bank data and connections, named by id, answer
404 to read and to change, exactly like ids that do not exist."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.db import db
from app.onboarding.models import BankAccount, SupportingDocument, existing_profile
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import BIC, IBAN, PDF, file, step, text, upload

NEXT_YEAR = dt.date.today() + dt.timedelta(days=365)  # noqa: DTZ011


@pytest.fixture
def victim(app):
    """Another supplier with a profile, a document and a bank account."""
    org = OrganizationFactory(name="Victim Medical", status=OrgStatus.DRAFT, country="DE")
    user = UserFactory(
        email="admin@victim.example", role=Role.SUPPLIER_ADMIN, role__organization=org
    )
    browser = app.test_client()
    login(browser, user.email, PASSWORD)
    step(browser, org.id, "tax", {"tax_id": "DE752917034"})
    step(
        browser,
        org.id,
        "bank",
        {
            "account_holder": "Victim",
            "bank_name": "Bank",
            "scheme": "IBAN",
            "iban": IBAN,
            "bic": BIC,
        },
    )
    upload(browser, org.id, "W8", PDF, "victim-w8.pdf")
    db.session.expire_all()
    org.document = db.session.scalars(select(SupportingDocument)).one()
    org.account = db.session.scalars(select(BankAccount)).one()
    return org


def test_reading_another_organizations_pages_answers_404(client, supplier_admin, victim):
    own = supplier_admin.organization.id
    paths = [
        f"/organizations/{victim.id}/profile",
        f"/organizations/{victim.id}/profile/company",
        f"/organizations/{victim.id}/profile/tax",
        f"/organizations/{victim.id}/profile/bank",
        f"/organizations/{victim.id}/documents",
        f"/organizations/{victim.id}/documents/{victim.document.id}",
        f"/organizations/{own}/documents/{victim.document.id}",
        f"/organizations/{victim.id}/bank",
        f"/organizations/{victim.id}/bank/{victim.account.id}",
        f"/organizations/{own}/bank/{victim.account.id}",
        f"/organizations/{victim.id}/connections",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Victim" not in text(response)
        assert "752917034" not in text(response)
    # The same answer as for an id that does not exist.
    assert client.get(f"/organizations/{own}/documents/999999").status_code == 404


def test_changing_another_organizations_data_answers_404_and_changes_nothing(
    client, supplier_admin, victim
):
    token = csrf_token(text(client.get(f"/organizations/{supplier_admin.organization.id}/profile")))
    posts = {
        f"/organizations/{victim.id}/profile/company": {"name": "Hijacked", "country": "US"},
        f"/organizations/{victim.id}/profile/tax": {"tax_id": "12-9339287"},
        f"/organizations/{victim.id}/profile/bank": {
            "account_holder": "Thief",
            "bank_name": "X",
            "scheme": "US_ABA",
            "routing_number": "239077969",
            "account_number": "999999",
        },
        f"/organizations/{victim.id}/profile/submit": {},
        f"/organizations/{victim.id}/bank": {
            "account_holder": "Thief",
            "bank_name": "X",
            "scheme": "US_ABA",
            "routing_number": "239077969",
            "account_number": "999999",
        },
        f"/organizations/{victim.id}/connections": {
            "partner_id": "1",
            "document_types": ["invoices"],
        },
    }
    for path, data in posts.items():
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 404, path
    response = client.post(
        f"/organizations/{victim.id}/documents",
        data={"kind": "W8", "file": file(PDF, "evil.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 404
    db.session.expire_all()
    org = db.session.get(Organization, victim.id)
    assert org.name == "Victim Medical"
    assert existing_profile(org).tax_id == "DE752917034"
    assert [a.account_holder for a in db.session.scalars(select(BankAccount))] == ["Victim"]
    assert len(db.session.scalars(select(SupportingDocument)).all()) == 1


def test_staff_pages_are_refused_to_suppliers(client, supplier_admin, victim):
    for path in (
        f"/admin/onboarding/{victim.id}",
        f"/admin/onboarding/{victim.id}/documents/{victim.document.id}",
        "/admin/onboarding",
        "/dev/mailbox",
    ):
        assert client.get(path).status_code == 403, path


def test_procurement_reads_any_supplier_but_buyer_ids_answer_404(procurement, victim):
    response = procurement.browser.get(
        f"/admin/onboarding/{victim.id}/documents/{victim.document.id}"
    )
    assert response.status_code == 200
    assert response.data == PDF
    response.close()
    buyer = procurement.organization
    assert procurement.browser.get(f"/admin/onboarding/{buyer.id}").status_code == 404
    assert (
        procurement.browser.get(f"/admin/onboarding/{victim.id}/documents/999999").status_code
        == 404
    )


def test_a_partner_cannot_read_another_partners_suppliers(app):
    from tests.onboarding.conftest import signed_in_browser

    mine, theirs = (
        OrganizationFactory(kind=OrgKind.PARTNER, name="Mine Network"),
        OrganizationFactory(kind=OrgKind.PARTNER, name="Their Network"),
    )
    admin = UserFactory(email="a@mine.example", role=Role.PARTNER_ADMIN, role__organization=mine)
    browser = signed_in_browser(app, admin)
    assert browser.get(f"/organizations/{mine.id}/connected-suppliers").status_code == 200
    assert browser.get(f"/organizations/{theirs.id}/connected-suppliers").status_code == 404
    assert browser.get(f"/organizations/{theirs.id}/profile").status_code == 404
