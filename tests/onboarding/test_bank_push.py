"""An approved bank change reaches the ERP's vendor record (the mock ERP, for real): sent after
the second approval, sent again by the sweep while the ERP is down, shown on the supplier's
and procurement's bank pages as "waiting to reach the ERP" until the ERP holds it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.erp import set_erp
from app.erp.errors import ErpRejected
from app.erp.fake import RecordingErp
from app.onboarding import erp_push
from app.onboarding.models import BankAccount, BankStatus
from app.pipeline import HOUSEKEEPING
from tests.intake.helpers import run_jobs
from tests.onboarding.helpers import IBAN, confirm_it_is_me, post_form, text
from tests.onboarding.test_bank_change import NEW_ACCOUNT, active_supplier_with_bank

VENDOR = "V1003"


@pytest.fixture(autouse=True)
def _fresh_erp(request):
    uses_erp = "portal_erp" in request.fixturenames
    server = request.getfixturevalue("mock_erp") if uses_erp else None
    yield
    if server is not None:
        server.reset()  # the vendor record was changed


def approved_change(client, procurement, second_procurement, vendor: str = VENDOR):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org, user, _old = active_supplier_with_bank()
    org.erp_vendor_number = vendor
    login(client, user.email, PASSWORD)
    confirm_it_is_me(client, f"/organizations/{org.id}/bank")
    assert post_form(client, f"/organizations/{org.id}/bank", NEW_ACCOUNT).status_code == 302
    pending = db.session.scalar(
        select(BankAccount).where(
            BankAccount.organization_id == org.id, BankAccount.status == BankStatus.PENDING
        )
    )
    for admin in (procurement, second_procurement):
        page = f"/admin/onboarding/{org.id}"
        path = f"{page}/bank/{pending.id}/approve"
        assert post_form(admin.browser, path, {}, page=page).status_code == 302
    db.session.expire_all()
    return org, pending


def test_an_approved_change_reaches_the_erp_vendor_record(
    client, procurement, second_procurement, portal_erp
):
    org, account = approved_change(client, procurement, second_procurement)
    page = text(client.get(f"/organizations/{org.id}/bank"))
    assert "Waiting to reach the ERP" in page

    run_jobs()  # the push job sent after the second approval
    db.session.expire_all()
    assert account.erp_synced_at is not None
    vendor = portal_erp.client().get_vendor(VENDOR)
    assert vendor.remit_to is not None
    assert (vendor.remit_to.scheme, vendor.remit_to.account) == ("IBAN", IBAN)
    changes = portal_erp.admin("GET", f"/admin/vendors/{VENDOR}/changes").json()["items"]
    assert [c["reference"] for c in changes] == [f"bank-account-{account.id}"]

    since = f"In the ERP since {account.erp_synced_at:%Y-%m-%d %H:%M} UTC"
    assert since in text(client.get(f"/organizations/{org.id}/bank"))
    assert since in text(procurement.browser.get(f"/admin/onboarding/{org.id}"))
    assert db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "bank_account.erp_synced")
    )


def test_with_the_erp_down_the_sweep_sends_it_again_until_it_is_there(
    client, procurement, second_procurement, portal_erp
):
    org, account = approved_change(client, procurement, second_procurement)
    portal_erp.set_faults(error_rate=1.0)
    try:
        run_jobs()  # the job fails and is left to RQ's retries
        assert erp_push.push_due() == 0
    finally:
        portal_erp.clear_faults()
    db.session.expire_all()
    assert account.erp_synced_at is None
    assert "Waiting to reach the ERP" in text(
        procurement.browser.get(f"/admin/onboarding/{org.id}")
    )

    assert erp_push.push_due() == 1
    assert erp_push.push_due() == 0  # in the ERP now: nothing more to send
    assert portal_erp.client().get_vendor(VENDOR).remit_to.account == IBAN


def test_a_refusal_is_kept_on_the_account_and_shown(client, procurement, second_procurement, app):
    previous = app.extensions.get("erp")
    fake = RecordingErp()
    set_erp(app, fake)
    try:
        org, account = approved_change(client, procurement, second_procurement, vendor="V1001")
        fake.fail_next(ErpRejected("VENDOR_LOCKED", "Vendor V1001 is locked."), "update_vendor")
        run_jobs()
        db.session.expire_all()
        assert account.erp_synced_at is None
        assert account.erp_sync_error == "VENDOR_LOCKED: Vendor V1001 is locked."
        page = text(client.get(f"/organizations/{org.id}/bank"))
        assert "Not in the ERP yet: it refused them" in page
        assert erp_push.push_due() == 1  # tried again by the sweep, with the same key
        keys = {c.kwargs["idempotency_key"] for c in fake.calls_to("update_vendor")}
        assert keys == {f"bank-account-{account.id}"}
    finally:
        if previous is None:
            app.extensions.pop("erp", None)
        else:
            set_erp(app, previous)


def test_every_sweep_sends_what_the_erp_does_not_hold():
    assert HOUSEKEEPING["bank_details_pushed"] == "app.onboarding.erp_push.push_due"
