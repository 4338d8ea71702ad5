"""On approval a job creates or links the ERP vendor (against the real mock ERP process) and
only then makes the supplier ACTIVE; running it again changes nothing and creates no vendor."""

from __future__ import annotations

import pytest
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.jobs import queue, redis_connection
from app.onboarding import tasks
from app.onboarding.profile import profile_of
from app.orgs.models import Organization, OrgStatus
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import (
    fill_supplier_profile,
    last_mail,
    post_form,
    submit,
    text,
)


def _fresh(org_id: int) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org_id)


def _approve(procurement, org_id: int) -> None:
    response = post_form(
        procurement.browser,
        f"/admin/onboarding/{org_id}/approve",
        {"scopes": ["invoices:write"]},
        page=f"/admin/onboarding/{org_id}",
    )
    assert response.status_code == 302
    assert _fresh(org_id).status == OrgStatus.APPROVED


def _work(app) -> None:
    """Run every queued job in this process, as a worker would (in its own app context, so
    the job's session is not the test's)."""
    with app.app_context():
        connection = redis_connection(app)
        SimpleWorker([queue("default")], connection=connection).work(burst=True)


def _run(app, org_id: int):
    """Call the job function directly, in its own app context like a worker."""
    with app.app_context():
        return tasks.sync_vendor(org_id)


def test_approval_job_creates_exactly_one_vendor_even_when_run_twice(
    app, submitted_supplier, procurement, portal_erp, supplier_admin
):
    org_id, tax_id = submitted_supplier.id, submitted_supplier.tax_id
    _approve(procurement, org_id)
    _work(app)

    org = _fresh(org_id)
    assert org.status == OrgStatus.ACTIVE
    vendors = portal_erp.client().list_vendors(tax_id=tax_id)
    assert [v.number for v in vendors] == [org.erp_vendor_number]
    vendor = vendors[0]
    assert (vendor.name, vendor.country, vendor.status) == (org.name, "US", "ACTIVE")
    assert vendor.remit_to is not None
    assert vendor.remit_to.scheme == "US_ABA"
    assert last_mail(supplier_admin.email).subject == "Your organization is active"

    # The job again (a duplicate delivery): nothing happens, no second vendor.
    assert _run(app, org_id) is None
    assert len(portal_erp.client().list_vendors(tax_id=tax_id)) == 1

    # A worker that created the vendor but died before its commit: the retry links the same one.
    org = _fresh(org_id)
    number = org.erp_vendor_number
    org.status, org.erp_vendor_number = OrgStatus.APPROVED, None
    db.session.commit()
    assert _run(app, org_id) == number
    assert len(portal_erp.client().list_vendors(tax_id=tax_id)) == 1
    assert _fresh(org_id).erp_vendor_number == number
    activations = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "organization.active")
    ).all()
    assert [a.details["created"] for a in activations] == [True, False]


@pytest.mark.usefixtures("exclusion_list")
def test_a_supplier_already_in_the_erp_is_linked_by_tax_id(
    app, client, supplier_admin, procurement, portal_erp
):
    org_id = supplier_admin.organization.id
    # The mock ERP's seed holds V1008 with this EIN.
    fill_supplier_profile(client, org_id, name="Summit Surgical Supply Co.", tax_id="12-9339287")
    submit(client, org_id)
    _approve(procurement, org_id)
    _work(app)
    org = _fresh(org_id)
    assert (org.status, org.erp_vendor_number) == (OrgStatus.ACTIVE, "V1008")
    assert len(portal_erp.client().list_vendors(tax_id="12-9339287")) == 1


def test_an_erp_outage_is_retried_and_the_supplier_waits(
    app, submitted_supplier, procurement, portal_erp
):
    from app.erp import get_erp, set_erp

    org_id = submitted_supplier.id
    reachable = get_erp()
    set_erp(app, portal_erp.client(url="http://127.0.0.1:9", connect_timeout=0.2))
    try:
        _approve(procurement, org_id)
        _work(app)
    finally:
        set_erp(app, reachable)
    assert _fresh(org_id).status == OrgStatus.APPROVED
    job = Job.fetch(tasks.sync_vendor_job_id(org_id), connection=redis_connection(app))
    assert job.get_status() == "scheduled"
    assert job.retries_left == tasks.SYNC_RETRY.max - 1
    page = text(procurement.browser.get(f"/admin/onboarding/{org_id}"))
    assert "Waiting for the ERP vendor" in page

    # The ERP is back: procurement retries from the page instead of waiting for the backoff.
    response = post_form(
        procurement.browser,
        f"/admin/onboarding/{org_id}/erp-sync",
        {},
        page=f"/admin/onboarding/{org_id}",
    )
    assert response.status_code == 302
    _work(app)
    assert _fresh(org_id).status == OrgStatus.ACTIVE


def test_a_vendor_number_linked_elsewhere_is_reported_not_reused(
    app, submitted_supplier, procurement, portal_erp
):
    org_id = submitted_supplier.id
    vendor, _ = portal_erp.client().find_or_create_vendor(
        {"name": "Other", "tax_id": submitted_supplier.tax_id, "country": "US"}
    )
    OrganizationFactory(
        name="Already Linked", kind=submitted_supplier.kind, erp_vendor_number=vendor.number
    )
    db.session.commit()
    _approve(procurement, org_id)
    _work(app)
    org = _fresh(org_id)
    assert org.status == OrgStatus.APPROVED
    assert (
        profile_of(org).erp_sync_error
        == f"ERP vendor {vendor.number} is already linked to Already Linked in the portal."
    )
    assert last_mail(procurement.email).subject == "ERP vendor could not be created"
