"""`seed-demo` shows suppliers in every onboarding state, made through the onboarding services,
and every active supplier's profile is complete: tax id and bank account as the ERP holds them,
stored encrypted, screened against the loaded demo exclusion list."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.db import db, unit_of_work
from app.demo import DEMO_PASSWORD, seed_demo
from app.erp import get_erp
from app.onboarding import banking, screening
from app.onboarding.models import Enrollment, existing_profile
from app.onboarding.profile import incomplete_sections
from app.orgs.models import Organization, OrgKind, OrgStatus
from tests.conftest import csrf_token, login
from tests.intake.helpers import run_jobs


def _suppliers() -> list[Organization]:
    query = select(Organization).where(Organization.kind == OrgKind.SUPPLIER)
    return list(db.session.scalars(query.order_by(Organization.id)))


def _by_status(status: OrgStatus) -> list[Organization]:
    return [org for org in _suppliers() if org.status == status]


def test_the_demo_has_a_supplier_in_every_onboarding_state(portal_erp, monkeypatch):
    monkeypatch.setattr("app.demo.seed_invoices", lambda suppliers, via=None: 0)  # not needed here
    with unit_of_work():
        seed_demo()
    run_jobs()  # the vendor jobs that approval sent, as the worker runs them
    db.session.expire_all()

    assert {org.status for org in _suppliers()} == set(OrgStatus)
    invitations = db.session.scalars(
        select(Enrollment).where(Enrollment.used_at.is_(None), Enrollment.revoked_at.is_(None))
    ).all()
    assert len(invitations) == 1

    # Screening ran for real at submission: one submitted supplier clear, one flagged.
    results = {org.name: screening.latest(org) for org in _by_status(OrgStatus.SUBMITTED)}
    assert sorted(bool(s.hits) for s in results.values()) == [False, True]
    assert results["Shady Surgical Supply LLC"].hits
    (rejected,) = _by_status(OrgStatus.REJECTED)
    assert screening.latest(rejected).hits
    assert existing_profile(rejected).decision_reason
    (draft,) = _by_status(OrgStatus.DRAFT)
    assert incomplete_sections(draft)  # stopped part way through the wizard

    # Approved, waiting for its ERP vendor: the ERP's vendor for its tax id is someone else's.
    (approved,) = _by_status(OrgStatus.APPROVED)
    assert approved.erp_vendor_number is None
    assert "already linked" in existing_profile(approved).erp_sync_error


def test_every_active_demo_supplier_is_complete_and_paid_where_the_erp_pays(
    portal_erp, monkeypatch
):
    monkeypatch.setattr("app.demo.seed_invoices", lambda suppliers, via=None: 0)
    with unit_of_work():
        seed_demo()
    live = _by_status(OrgStatus.ACTIVE) + _by_status(OrgStatus.SUSPENDED)
    assert len(live) >= 6
    for org in live:
        assert incomplete_sections(org) == [], org.name
        assert screening.latest(org).passed, org.name
        vendor = get_erp().get_vendor(org.erp_vendor_number)
        profile = existing_profile(org)
        assert profile.tax_id == vendor.tax_id, org.name
        account = banking.active_account(org)
        assert account is not None, org.name
        assert vendor.remit_to is not None
        assert (account.scheme.value, account.bank_code, account.account_identifier) == (
            vendor.remit_to.scheme,
            vendor.remit_to.bank_code,
            vendor.remit_to.account,
        ), org.name
        # Encrypted at rest: the stored column never holds the number itself.
        stored = db.session.execute(
            text("SELECT tax_id FROM onboarding_profiles WHERE id = :id"), {"id": profile.id}
        ).scalar_one()
        assert vendor.tax_id not in stored
        stored_account = db.session.execute(
            text("SELECT account_number, iban FROM bank_accounts WHERE id = :id"),
            {"id": account.id},
        ).one()
        assert all(vendor.remit_to.account not in (value or "") for value in stored_account)

    before = db.session.scalar(select(func.count()).select_from(Organization))
    with unit_of_work():
        seed_demo()  # again: nothing new, nothing moved
    assert db.session.scalar(select(func.count()).select_from(Organization)) == before


def test_the_demo_admins_of_unfinished_profiles_see_where_they_stand(client, monkeypatch):
    monkeypatch.setattr("app.demo.seed_invoices", lambda suppliers, via=None: 0)
    with unit_of_work():
        seed_demo()
    (asked,) = _by_status(OrgStatus.CHANGES_REQUESTED)
    login(client, "admin@pinecrestrespiratory.example", DEMO_PASSWORD)
    page = client.get(f"/organizations/{asked.id}/profile")
    assert page.status_code == 200
    assert "upload yours" in page.get_data(as_text=True)  # the reviewer's comment
    client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    (draft,) = _by_status(OrgStatus.DRAFT)
    login(client, "admin@cedarpointtextiles.example", DEMO_PASSWORD)
    page = client.get(f"/organizations/{draft.id}/profile")
    assert page.status_code == 200
    assert "incomplete" in page.get_data(as_text=True)
