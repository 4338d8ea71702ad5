"""Certificates of insurance: a notice 30 days before expiry, invoicing suspended once expired,
reinstated by a new certificate; the daily command is safe to run twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.onboarding.models import Profile, SupportingDocument, SupportingDocumentKind
from app.orgs.models import Organization, OrgStatus
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import PDF, mails_to, text, upload

TODAY = dt.datetime.now(dt.UTC).date()


def _insured_supplier(expires_on: dt.date, email: str = "admin@insured.example"):
    org = OrganizationFactory(status=OrgStatus.ACTIVE, erp_vendor_number=None)
    user = UserFactory(email=email, role=Role.SUPPLIER_ADMIN, role__organization=org)
    db.session.add(Profile(organization_id=org.id, contacts={}))
    doc = SupportingDocument(
        organization_id=org.id,
        kind=SupportingDocumentKind.INSURANCE,
        original_name="coi.pdf",
        stored_name=f"{org.id}-coi.pdf",
        content_type="application/pdf",
        size_bytes=10,
        sha256="0" * 64,
        expires_on=expires_on,
    )
    db.session.add(doc)
    db.session.commit()
    return org, user


def _check(app) -> str:
    result = app.test_cli_runner().invoke(args=["onboarding", "check-certificates"])
    assert result.exit_code == 0, result.output
    return result.output


def _status(org_id: int) -> OrgStatus:
    db.session.expire_all()
    return db.session.get(Organization, org_id).status


def test_supplier_is_told_30_days_before_expiry_once(app):
    org, user = _insured_supplier(TODAY + dt.timedelta(days=30))
    _far, far_user = _insured_supplier(TODAY + dt.timedelta(days=31), email="far@insured.example")
    assert "1 expiry notice(s), 0 suspension(s)" in _check(app)
    [notice] = mails_to(user.email)
    assert notice.subject == "Your certificate of insurance expires soon"
    assert (TODAY + dt.timedelta(days=30)).isoformat() in notice.body
    assert mails_to(far_user.email) == []
    assert "0 expiry notice(s), 0 suspension(s)" in _check(app)  # the second run changes nothing
    assert len(mails_to(user.email)) == 1
    assert _status(org.id) == OrgStatus.ACTIVE


def test_an_expired_certificate_suspends_invoicing_once(app, procurement):
    org, user = _insured_supplier(TODAY - dt.timedelta(days=1))
    assert "0 expiry notice(s), 1 suspension(s)" in _check(app)
    assert _status(org.id) == OrgStatus.SUSPENDED
    assert mails_to(user.email)[-1].subject == "Your organization is suspended"
    assert mails_to(procurement.email)[-1].subject == "Supplier suspended"
    assert "0 expiry notice(s), 0 suspension(s)" in _check(app)
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "organization.suspended")
    ).all()
    assert len(entries) == 1
    assert "expired" in entries[0].details["reason"]
    assert entries[0].actor_label == "system"


def test_a_new_certificate_reinstates_the_supplier(app, client):
    org, user = _insured_supplier(TODAY - dt.timedelta(days=1))
    _check(app)
    login(client, user.email, PASSWORD)
    page = text(client.get(f"/organizations/{org.id}/profile"))
    assert "certificate of insurance expired" in page
    response = upload(
        client, org.id, "COI", PDF, "coi-2027.pdf", expires_on=TODAY + dt.timedelta(days=365)
    )
    assert response.status_code == 302
    assert _status(org.id) == OrgStatus.ACTIVE
    assert mails_to(user.email)[-1].subject == "Your organization is active"


def test_the_job_entry_point_runs_the_same_check(app):
    from app.onboarding.tasks import check_certificates_job

    org, _ = _insured_supplier(TODAY - dt.timedelta(days=3))
    with app.app_context():
        assert check_certificates_job() == {"notified": 0, "suspended": 1}
    assert _status(org.id) == OrgStatus.SUSPENDED
