"""The guided profile: each step saves a draft, formats are checked with messages naming the
field, secrets are encrypted at rest and shown masked, and only a complete profile submits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import text as sql

from app.audit.models import AuditEntry
from app.db import db
from app.onboarding.models import BankAccount, Profile, existing_profile
from app.orgs.models import Organization, OrgStatus
from tests.onboarding.helpers import (
    BIC,
    IBAN,
    fill_supplier_profile,
    step,
    submit,
    text,
    unique_ein,
)


def _org(user) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, user.organization.id)


def test_each_step_is_saved_as_a_draft_and_the_wizard_moves_on(client, supplier_admin):
    org_id = supplier_admin.organization.id
    response = step(
        client,
        org_id,
        "company",
        {"name": "Acme Implants Inc.", "country": "US", "duns": "15-048-3782"},
    )
    assert response.headers["Location"].endswith(f"/organizations/{org_id}/profile/tax")
    org = _org(supplier_admin)
    assert (org.name, org.country, existing_profile(org).duns, org.status) == (
        "Acme Implants Inc.",
        "US",
        "150483782",
        OrgStatus.DRAFT,
    )
    # Coming back shows what was saved.
    page = text(client.get(f"/organizations/{org_id}/profile/company"))
    assert 'value="Acme Implants Inc."' in page
    overview = text(client.get(f"/organizations/{org_id}/profile"))
    assert "complete" in overview
    assert "incomplete" in overview


def test_invalid_tax_id_is_refused_with_a_message_naming_the_field(client, supplier_admin):
    org_id = supplier_admin.organization.id
    step(client, org_id, "company", {"name": "Acme", "country": "US"})
    response = step(client, org_id, "tax", {"tax_id": "00-1234567"})
    assert response.status_code == 422
    assert "Tax ID is not a valid US EIN" in text(response)
    assert existing_profile(_org(supplier_admin)).tax_id is None


def test_tax_ids_are_validated_for_the_company_country(client, supplier_admin):
    org_id = supplier_admin.organization.id
    cases = {
        ("DE", "DE752917035"): "Tax ID is not a valid EU VAT number",
        ("GB", "GB980780685"): "Tax ID is not a valid UK VAT number",
        ("CA", "123456789"): "Tax ID is not a valid Canadian Business Number",
        ("DE", "FR40303265045"): "Tax ID is a VAT number of FR",
    }
    for (country, tax_id), message in cases.items():
        step(client, org_id, "company", {"name": "Acme", "country": country})
        response = step(client, org_id, "tax", {"tax_id": tax_id})
        assert response.status_code == 422, (country, tax_id)
        assert message in text(response), (country, tax_id)
    for country, tax_id, stored in (
        ("DE", "752917034", "DE752917034"),
        ("GB", "980 7806 84", "GB980780684"),
        ("CA", "123456782", "123456782"),
        ("US", "129339287", "12-9339287"),
    ):
        step(client, org_id, "company", {"name": "Acme", "country": country})
        assert step(client, org_id, "tax", {"tax_id": tax_id}).status_code == 302
        assert existing_profile(_org(supplier_admin)).tax_id == stored


def test_tax_id_needs_the_country_first(client, supplier_admin):
    response = step(client, supplier_admin.organization.id, "tax", {"tax_id": "12-9339287"})
    assert "choose it in the Company step first" in text(response)


def test_invalid_iban_bic_and_routing_are_refused_naming_the_field(client, supplier_admin):
    org_id = supplier_admin.organization.id
    base = {"account_holder": "Acme", "bank_name": "Bank"}
    cases = (
        (
            {"scheme": "IBAN", "iban": "DE81851167971317136108", "bic": BIC},
            "IBAN is not valid: invalid checksum digits",
        ),
        (
            {"scheme": "IBAN", "iban": IBAN, "bic": "HHBANL2AXXX"},
            "BIC belongs to a bank in NL, but the IBAN is in DE",
        ),
        ({"scheme": "IBAN", "iban": IBAN, "bic": "XX"}, "BIC is not valid"),
        (
            {"scheme": "US_ABA", "routing_number": "239077968", "account_number": "1234"},
            "Routing number is not a valid ABA number",
        ),
        (
            {"scheme": "US_ABA", "routing_number": "239077969", "account_number": "12"},
            "Account number must be 4 to 17 digits",
        ),
    )
    for data, message in cases:
        response = step(client, org_id, "bank", {**base, **data})
        assert response.status_code == 422, data
        assert message in text(response), (message, text(response))
    assert db.session.scalar(select(BankAccount)) is None


def test_bank_details_are_encrypted_at_rest_and_shown_masked(client, supplier_admin):
    org_id = supplier_admin.organization.id
    step(client, org_id, "company", {"name": "Acme", "country": "DE"})
    step(client, org_id, "tax", {"tax_id": "DE752917034"})
    data = {
        "account_holder": "Acme GmbH",
        "bank_name": "Suedwest",
        "scheme": "IBAN",
        "iban": "de81 8511 6797 1317 1361 09",
        "bic": BIC,
    }
    assert step(client, org_id, "bank", data).status_code == 302

    account = db.session.scalar(select(BankAccount))
    assert account.iban == IBAN  # compacted, readable through the model
    raw = db.session.execute(sql("SELECT iban, bic FROM bank_accounts")).one()
    assert IBAN not in raw.iban
    assert raw.iban.startswith("gAAAA")
    raw_tax = db.session.execute(sql("SELECT tax_id FROM onboarding_profiles")).scalar_one()
    assert "752917034" not in raw_tax

    page = text(client.get(f"/organizations/{org_id}/profile/bank"))
    assert IBAN not in page
    assert "6109" in page
    tax_page = text(client.get(f"/organizations/{org_id}/profile/tax"))
    assert "DE752917034" not in tax_page
    assert "7034" in tax_page
    # Saving the step again without retyping keeps the stored tax id.
    assert step(client, org_id, "tax", {"tax_id": ""}).status_code == 302
    assert existing_profile(_org(supplier_admin)).tax_id == "DE752917034"


def test_profile_audit_entries_mask_secrets(client, supplier_admin):
    org_id = supplier_admin.organization.id
    step(client, org_id, "company", {"name": "Acme", "country": "US"})
    step(client, org_id, "tax", {"tax_id": "12-9339287"})
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "onboarding.profile_saved")
    ).all()
    tax_entry = next(e for e in entries if e.details["section"] == "tax")
    assert "12-9339287" not in str(tax_entry.details)
    assert tax_entry.details["after"]["tax_id"].endswith("9287")
    company = next(e for e in entries if e.details["section"] == "company")
    assert company.details["after"]["country"] == "US"
    assert company.details["before"]["country"] is None


def test_an_incomplete_profile_cannot_be_submitted(client, supplier_admin):
    org_id = supplier_admin.organization.id
    step(client, org_id, "company", {"name": "Acme", "country": "US"})
    response = submit(client, org_id)
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Complete these sections before submitting: Tax identification, Addresses" in page
    assert _org(supplier_admin).status == OrgStatus.DRAFT


def test_a_complete_profile_is_submitted_and_procurement_is_told(
    client, supplier_admin, procurement, exclusion_list
):
    org_id = supplier_admin.organization.id
    fill_supplier_profile(client, org_id, name="Acme Implants", tax_id=unique_ein())
    assert submit(client, org_id).status_code == 302
    org = _org(supplier_admin)
    assert org.status == OrgStatus.SUBMITTED
    assert existing_profile(org).submitted_at is not None
    from tests.onboarding.helpers import last_mail

    assert last_mail(procurement.email).subject == "Onboarding review needed"
    assert last_mail(supplier_admin.email).subject == "Your onboarding profile was submitted"
    # While submitted, steps are read-only.
    response = step(client, org_id, "company", {"name": "Changed", "country": "US"})
    assert response.status_code == 302
    assert _org(supplier_admin).name == "Acme Implants"


def test_partner_profile_has_its_own_steps_and_https_webhook(client, app):
    from app.orgs.models import OrgKind
    from app.orgs.roles import Role
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD, UserFactory
    from tests.factories.orgs import OrganizationFactory

    org = OrganizationFactory(kind=OrgKind.PARTNER, status=OrgStatus.DRAFT, name="Network X")
    UserFactory(email="p@network.example", role=Role.PARTNER_ADMIN, role__organization=org)
    login(client, "p@network.example", PASSWORD)
    assert client.get(f"/organizations/{org.id}/profile/tax").status_code == 404
    response = step(
        client,
        org.id,
        "platform",
        {
            "platform_description": "E-invoicing",
            "scopes_wanted": ["invoices:write", "invoices:read"],
            "tier_wanted": "gold",
            "webhook_url": "http://hooks.network.example/portal",
        },
    )
    assert response.status_code == 422
    assert "Webhook endpoint must be an https:// URL" in text(response)
    response = step(
        client,
        org.id,
        "platform",
        {
            "platform_description": "E-invoicing",
            "scopes_wanted": ["invoices:write", "invoices:read"],
            "tier_wanted": "gold",
            "webhook_url": "https://hooks.network.example/portal",
        },
    )
    assert response.status_code == 302
    profile = db.session.scalar(select(Profile).where(Profile.organization_id == org.id))
    assert profile.scopes_wanted == ["invoices:write", "invoices:read"]
    assert profile.tier_wanted == "gold"


def test_profile_pages_need_an_organization_admin(client, app):
    from app.orgs.roles import Role
    from tests.conftest import login
    from tests.factories.accounts import PASSWORD, UserFactory

    user = UserFactory(email="clerk@acme.example", role=Role.SUPPLIER_USER)
    login(client, user.email, PASSWORD)
    assert client.get(f"/organizations/{user.organization.id}/profile").status_code == 403
