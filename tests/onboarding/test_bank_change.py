"""A bank change after activation needs two approvals by two other people; the old details
stay in force until then, and the moment the change took effect is recorded."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.onboarding.models import BankAccount, BankScheme, BankStatus
from app.orgs.models import Organization, OrgStatus
from app.orgs.roles import Role
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import (
    BIC,
    IBAN,
    ROUTING,
    confirm_it_is_me,
    last_mail,
    post_form,
    text,
)

NEW_ACCOUNT = {
    "account_holder": "Acme Implants Inc.",
    "bank_name": "Suedwest Handelsbank",
    "scheme": "IBAN",
    "iban": IBAN,
    "bic": BIC,
}


def active_supplier_with_bank(email: str = "admin@supplier.example"):
    org = OrganizationFactory(
        name="Acme Implants", status=OrgStatus.ACTIVE, country="US", erp_vendor_number="V9001"
    )
    user = UserFactory(email=email, role=Role.SUPPLIER_ADMIN, role__organization=org)
    account = BankAccount(
        organization_id=org.id,
        status=BankStatus.ACTIVE,
        scheme=BankScheme.US_ABA,
        account_holder="Acme Implants Inc.",
        bank_name="First Test Bank",
        routing_number=ROUTING,
        account_number="123456789",
    )
    db.session.add(account)
    db.session.flush()
    return org, user, account


def _accounts(org_id: int) -> dict[BankStatus, list[BankAccount]]:
    db.session.expire_all()
    rows = db.session.scalars(select(BankAccount).where(BankAccount.organization_id == org_id))
    grouped: dict[BankStatus, list[BankAccount]] = {}
    for row in rows:
        grouped.setdefault(row.status, []).append(row)
    return grouped


def _decide(admin, org_id: int, account_id: int, action: str, data=None) -> str:
    response = post_form(
        admin.browser,
        f"/admin/onboarding/{org_id}/bank/{account_id}/{action}",
        data or {},
        page=f"/admin/onboarding/{org_id}",
    )
    assert response.status_code == 302
    return text(admin.browser.get(response.headers["Location"]))


def test_changing_bank_details_asks_for_a_second_factor_first(client):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, _ = active_supplier_with_bank()
    login(client, user.email, PASSWORD)
    response = post_form(client, f"/organizations/{org.id}/bank", NEW_ACCOUNT, page="/home")
    assert response.status_code == 302
    assert "/account/mfa/setup" in response.headers["Location"]
    assert BankStatus.PENDING not in _accounts(org.id)


def test_bank_change_needs_two_other_approvers_and_old_details_stay_until_then(
    client, procurement, second_procurement
):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, old = active_supplier_with_bank()
    login(client, user.email, PASSWORD)
    confirm_it_is_me(client, f"/organizations/{org.id}/bank")
    response = post_form(client, f"/organizations/{org.id}/bank", NEW_ACCOUNT)
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Waiting for two procurement approvals" in page
    assert "Request a change" not in page  # one pending change at a time

    accounts = _accounts(org.id)
    pending = accounts[BankStatus.PENDING][0]
    assert accounts[BankStatus.ACTIVE][0].id == old.id  # payments still go to the old account
    assert "A change of bank details was requested" in last_mail(user.email).subject
    assert last_mail(procurement.email).subject == "Bank change to approve"

    page = _decide(procurement, org.id, pending.id, "approve")
    assert "First approval recorded; a second procurement admin must approve too." in page
    assert _accounts(org.id)[BankStatus.ACTIVE][0].id == old.id
    page = _decide(procurement, org.id, pending.id, "approve")
    assert "A second procurement admin must give the second approval." in page
    assert _accounts(org.id)[BankStatus.ACTIVE][0].id == old.id

    page = _decide(second_procurement, org.id, pending.id, "approve")
    assert "Second approval given: the new bank details are in force." in page
    accounts = _accounts(org.id)
    active = accounts[BankStatus.ACTIVE][0]
    assert active.id == pending.id
    assert active.iban == IBAN
    assert accounts[BankStatus.SUPERSEDED][0].id == old.id
    assert active.first_approved_by_id == procurement.id
    assert active.decided_by_id == second_procurement.id
    org = db.session.get(Organization, org.id)
    assert org.bank_changed_at == active.effective_at is not None
    assert last_mail(user.email).subject == "Your new bank details are in force"


def test_a_rejected_bank_change_leaves_the_old_details(client, procurement):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, old = active_supplier_with_bank()
    login(client, user.email, PASSWORD)
    confirm_it_is_me(client, f"/organizations/{org.id}/bank")
    post_form(client, f"/organizations/{org.id}/bank", NEW_ACCOUNT)
    pending = _accounts(org.id)[BankStatus.PENDING][0]
    page = _decide(
        procurement,
        org.id,
        pending.id,
        "reject",
        {"reason": "The supplier's known contact did not confirm it."},
    )
    assert "Bank change rejected" in page
    accounts = _accounts(org.id)
    assert accounts[BankStatus.ACTIVE][0].id == old.id
    assert accounts[BankStatus.REJECTED][0].id == pending.id
    assert db.session.get(Organization, org.id).bank_changed_at is None
    assert "did not confirm" in last_mail(user.email).body


def test_bank_change_validates_and_is_only_for_live_suppliers(client, supplier_admin):
    org_id = supplier_admin.organization.id
    page = text(confirm_it_is_me(client, f"/organizations/{org_id}/bank"))
    assert "Request a change" not in page  # a DRAFT supplier uses the wizard's bank step
    assert post_form(client, f"/organizations/{org_id}/bank", NEW_ACCOUNT).status_code == 200
    assert _accounts(org_id) == {}


def test_invalid_change_is_refused_naming_the_field(client):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, _ = active_supplier_with_bank()
    login(client, user.email, PASSWORD)
    confirm_it_is_me(client, f"/organizations/{org.id}/bank")
    response = post_form(
        client, f"/organizations/{org.id}/bank", {**NEW_ACCOUNT, "iban": "DE00851167971317136109"}
    )
    assert response.status_code == 422
    assert "IBAN is not valid" in text(response)
    assert BankStatus.PENDING not in _accounts(org.id)


def test_bank_pages_show_details_masked(client, procurement):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, _old = active_supplier_with_bank()
    login(client, user.email, PASSWORD)
    page = text(confirm_it_is_me(client, f"/organizations/{org.id}/bank"))
    assert "123456789" not in page
    assert "6789" in page
    page = text(procurement.browser.get(f"/admin/onboarding/{org.id}"))
    assert "123456789" not in page
    assert ROUTING not in page
    assert "6789" in page
