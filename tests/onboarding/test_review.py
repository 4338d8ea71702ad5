"""Procurement's review: the checks, screening hits and overrides, approve / reject / request
changes, resubmission, and the rule that nobody approves an organization they invited or
belong to."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.jobs import queue
from app.onboarding.models import ReviewComment, Screening, existing_profile
from app.orgs.models import Organization, OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.factories.accounts import UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.helpers import (
    fill_supplier_profile,
    last_mail,
    link_in,
    post_form,
    step,
    submit,
    text,
    unique_ein,
)


def _fresh(org_id: int) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org_id)


def _act(admin, org_id: int, action: str, data: dict | None = None):
    """Post one of the review forms from the organization's detail page, as the admin."""
    response = post_form(
        admin.browser,
        f"/admin/onboarding/{org_id}/{action}",
        data or {},
        page=f"/admin/onboarding/{org_id}",
    )
    assert response.status_code == 302
    return text(admin.browser.get(response.headers["Location"]))


def test_review_page_lists_each_check(submitted_supplier, procurement):
    page = text(procurement.browser.get(f"/admin/onboarding/{submitted_supplier.id}"))
    for label in (
        "Profile complete",
        "Tax ID valid",
        "Bank account valid",
        "Documents present and unexpired",
        "Exclusion screening clear",
    ):
        assert label in page
    assert "failed" not in page.split("<h2>Checks</h2>")[1].split("</table>")[0]
    assert "Approve" in page
    assert "Request changes" in page
    assert "Reject" in page


def test_approval_moves_to_approved_and_queues_the_erp_vendor_job(
    submitted_supplier, procurement, supplier_admin
):
    page = _act(
        procurement,
        submitted_supplier.id,
        "approve",
        {"scopes": ["invoices:write", "invoices:read"]},
    )
    assert "Approved. The ERP vendor is being created" in page
    org = _fresh(submitted_supplier.id)
    assert org.status == OrgStatus.APPROVED
    assert org.approved_scopes == ["invoices:read", "invoices:write"]
    job_ids = queue("default").job_ids
    assert f"onboarding-vendor-{org.id}" in job_ids
    assert last_mail(supplier_admin.email).subject == "Your organization was approved"
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "organization.approved")
    ).one()
    assert entry.details["before"] == {"status": "SUBMITTED"}
    assert entry.details["after"] == {"status": "APPROVED"}
    assert entry.actor_user_id == procurement.id


def test_a_screening_hit_blocks_approval_until_two_admins_override_it(
    client, supplier_admin, procurement, second_procurement, exclusion_list
):
    org_id = supplier_admin.organization.id
    # "Crooked Medical Supply, L.L.C." normalizes to the listed "CROOKED MEDICAL SUPPLY LLC".
    fill_supplier_profile(
        client, org_id, name="Crooked Medical Supply, L.L.C.", tax_id=unique_ein()
    )
    submit(client, org_id)
    page = text(procurement.browser.get(f"/admin/onboarding/{org_id}"))
    assert "Possible match: CROOKED MEDICAL SUPPLY LLC (matched on name)" in page

    page = _act(procurement, org_id, "approve", {"scopes": ["invoices:write"]})
    assert "Approval is blocked: Exclusion screening clear" in page
    assert _fresh(org_id).status == OrgStatus.SUBMITTED

    response = post_form(
        procurement.browser,
        f"/admin/onboarding/{org_id}/screening/override",
        {"reason": ""},
        page=f"/admin/onboarding/{org_id}",
    )
    assert "Reason: This field is required." in text(
        procurement.browser.get(response.headers["Location"])
    )
    page = _act(
        procurement,
        org_id,
        "screening/override",
        {"reason": "Different company: listed entity is in Miami, DUNS differs."},
    )
    assert "Override proposed; a second procurement admin must confirm it" in page
    screening = db.session.scalars(
        select(Screening).where(Screening.organization_id == org_id)
    ).one()
    assert screening.override_proposed_by_id == procurement.id
    assert screening.overridden_at is None
    assert "Confirm override" not in page  # the proposer is not offered the confirmation

    # Approval stays blocked while the override waits for its second admin.
    page = _act(second_procurement, org_id, "approve", {"scopes": ["invoices:write"]})
    assert "a second procurement admin must confirm it" in page
    assert _fresh(org_id).status == OrgStatus.SUBMITTED

    # The proposer cannot confirm their own proposal, even by posting the form.
    page = _act(procurement, org_id, "screening/override/confirm")
    assert "You proposed this override" in page
    db.session.expire_all()
    assert db.session.get(Screening, screening.id).overridden_at is None

    page = _act(second_procurement, org_id, "screening/override/confirm")
    assert "Screening overridden" in page
    db.session.expire_all()
    screening = db.session.get(Screening, screening.id)
    assert screening.overridden_by_id == second_procurement.id
    assert screening.override_reason.startswith("Different company")
    actions = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.in_(["screening.override_proposed", "screening.overridden"]))
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_user_id) for e in actions] == [
        ("screening.override_proposed", procurement.id),
        ("screening.overridden", second_procurement.id),
    ]
    assert actions[1].details["proposed_by_id"] == procurement.id
    _act(procurement, org_id, "approve", {"scopes": ["invoices:write"]})
    assert _fresh(org_id).status == OrgStatus.APPROVED


def test_a_withdrawn_override_proposal_needs_proposing_again(
    client, supplier_admin, procurement, second_procurement, exclusion_list
):
    org_id = supplier_admin.organization.id
    fill_supplier_profile(
        client, org_id, name="Crooked Medical Supply, L.L.C.", tax_id=unique_ein()
    )
    submit(client, org_id)
    _act(procurement, org_id, "screening/override", {"reason": "Not them."})
    page = _act(procurement, org_id, "screening/override/withdraw")
    assert "Override proposal withdrawn." in page
    page = _act(second_procurement, org_id, "screening/override/confirm")
    assert "No override is proposed" in page
    db.session.expire_all()
    screening = db.session.scalars(
        select(Screening).where(Screening.organization_id == org_id)
    ).one()
    assert screening.overridden_at is None
    assert screening.override_proposed_at is None


def test_screening_without_a_loaded_list_cannot_pass(client, supplier_admin, procurement):
    org_id = supplier_admin.organization.id
    fill_supplier_profile(client, org_id, name="Acme", tax_id=unique_ein())
    submit(client, org_id)
    page = _act(procurement, org_id, "approve")
    assert "No exclusion list is loaded, so screening could not run." in page
    assert _fresh(org_id).status == OrgStatus.SUBMITTED


def test_changes_requested_per_section_then_resubmitted(
    client, submitted_supplier, supplier_admin, procurement
):
    org_id = submitted_supplier.id
    page = _act(
        procurement,
        org_id,
        "request-changes",
        {
            "tax": "",
            "bank": "Please use the account named on your bank letter.",
            "addresses": "Remit-to needs a suite number.",
        },
    )
    assert "Changes requested" in page
    org = _fresh(org_id)
    assert org.status == OrgStatus.CHANGES_REQUESTED
    mail = last_mail(supplier_admin.email)
    assert mail.subject == "Changes requested to your onboarding profile"
    assert "- Bank account: Please use the account named on your bank letter." in mail.body
    assert link_in(mail) == f"/organizations/{org_id}/profile"

    overview = text(client.get(f"/organizations/{org_id}/profile"))
    assert "Remit-to needs a suite number." in overview
    assert "Submit again" in overview
    bank_step = text(client.get(f"/organizations/{org_id}/profile/bank"))
    assert "Please use the account named on your bank letter." in bank_step
    assert "Remit-to needs a suite number." not in bank_step

    response = step(
        client,
        org_id,
        "addresses",
        {
            "ordering-street": "1 Main St",
            "ordering-city": "Springfield",
            "ordering-postal_code": "62701",
            "ordering-country": "US",
            "remit-street": "1 Main St, Suite 200",
            "remit-city": "Springfield",
            "remit-postal_code": "62701",
            "remit-country": "US",
        },
    )
    assert response.status_code == 302
    assert submit(client, org_id).status_code == 302
    org = _fresh(org_id)
    assert org.status == OrgStatus.SUBMITTED
    assert existing_profile(org).remit_address["street"] == "1 Main St, Suite 200"
    comments = db.session.scalars(
        select(ReviewComment).where(ReviewComment.organization_id == org_id)
    ).all()
    assert len(comments) == 2
    assert all(c.resolved_at for c in comments)
    assert "answered" in text(procurement.browser.get(f"/admin/onboarding/{org_id}"))


def test_request_changes_needs_at_least_one_comment(submitted_supplier, procurement):
    page = _act(procurement, submitted_supplier.id, "request-changes", {})
    assert "Write a comment for at least one section." in page
    assert _fresh(submitted_supplier.id).status == OrgStatus.SUBMITTED


def test_rejection_needs_a_reason_which_the_supplier_sees(
    client, submitted_supplier, supplier_admin, procurement
):
    org_id = submitted_supplier.id
    page = _act(procurement, org_id, "reject", {"reason": ""})
    assert "This field is required" in page
    _act(
        procurement,
        org_id,
        "reject",
        {"reason": "We already buy these items from a contracted distributor."},
    )
    assert _fresh(org_id).status == OrgStatus.REJECTED
    assert "contracted distributor" in last_mail(supplier_admin.email).body
    assert "contracted distributor" in text(client.get(f"/organizations/{org_id}/profile"))
    # A rejected organization cannot submit again.
    submit(client, org_id)
    assert _fresh(org_id).status == OrgStatus.REJECTED


def test_nobody_approves_an_organization_they_invited(
    app, client, procurement, second_procurement, exclusion_list
):
    post_form(
        procurement.browser,
        "/admin/onboarding/invitations",
        {
            "company_name": "Invited Implants",
            "kind": "supplier",
            "contact_name": "Ivy",
            "email": "ivy@invited.example",
        },
    )
    path = link_in(last_mail("ivy@invited.example"))
    password = "a long new password 1"
    post_form(client, path, {"name": "Ivy", "password": password, "confirm": password})
    org = db.session.scalar(select(Organization).where(Organization.name == "Invited Implants"))
    fill_supplier_profile(client, org.id, name="Invited Implants", tax_id=unique_ein())
    submit(client, org.id)

    page = _act(procurement, org.id, "approve", {"scopes": ["invoices:write"]})
    assert "You invited this organization, so another admin must review it." in page
    page = _act(procurement, org.id, "reject", {"reason": "no"})
    assert "You invited this organization" in page
    assert _fresh(org.id).status == OrgStatus.SUBMITTED
    _act(second_procurement, org.id, "approve", {"scopes": ["invoices:write"]})
    assert _fresh(org.id).status == OrgStatus.APPROVED


def test_nobody_approves_an_organization_they_belong_to(app, submitted_supplier, procurement):
    from tests.onboarding.conftest import signed_in_browser

    # A membership that the account rules would never grant, made directly to prove the guard.
    insider = UserFactory(
        email="insider@hospital.example",
        role=Role.PROCUREMENT_ADMIN,
        role__organization=db.session.get(Organization, submitted_supplier.id),
    )
    insider.browser = signed_in_browser(app, insider)
    page = _act(insider, submitted_supplier.id, "approve")
    assert "You belong to this organization" in page
    assert _fresh(submitted_supplier.id).status == OrgStatus.SUBMITTED


def test_partner_approval_sets_its_scopes_and_activates_it(app, client, procurement):
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD

    org = OrganizationFactory(
        kind=OrgKind.PARTNER, status=OrgStatus.DRAFT, name="Network X", country=None
    )
    UserFactory(email="p@network.example", role=Role.PARTNER_ADMIN, role__organization=org)
    login(client, "p@network.example", PASSWORD)
    answers = {
        "company": {"name": "Network X", "country": "US"},
        "contacts": {
            "technical-name": "Tess Tech",
            "technical-email": "tess@network.example",
            "security-name": "Sam Sec",
            "security-email": "sec@network.example",
        },
        "platform": {
            "platform_description": "E-invoicing network",
            "scopes_wanted": ["invoices:write", "invoices:read", "webhooks:manage"],
            "tier_wanted": "gold",
            "webhook_url": "https://hooks.network.example/portal",
        },
        "security": {
            "hosting_region": "US (us-east-1)",
            "encryption_at_rest": "AES-256 (AWS KMS)",
            "encryption_in_transit": "TLS 1.2+",
            "incident_contact": "soc@network.example",
        },
    }
    for section, data in answers.items():
        assert step(client, org.id, section, data).status_code == 302, section
    assert submit(client, org.id).status_code == 302
    page = text(procurement.browser.get(f"/admin/onboarding/{org.id}"))
    assert "Webhook endpoint uses https" in page
    assert "Security questionnaire answered" in page
    # The approver grants less than was asked for.
    _act(procurement, org.id, "approve", {"scopes": ["invoices:write", "invoices:read"]})
    org = _fresh(org.id)
    assert org.status == OrgStatus.ACTIVE
    assert org.approved_scopes == ["invoices:read", "invoices:write"]
    assert org.erp_vendor_number is None
