"""Tiers: seeded by the migration, edited by procurement admins, requested by partners and
suppliers, and applied to the very next API request once changed."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.orgs.models import OrgKind
from app.orgs.roles import Role
from app.throttling import services
from app.throttling.models import OrganizationTier, Tier, TierRequest, TierRequestState
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.throttling.conftest import another_client, client_on, make_tier, registered_client
from tests.throttling.helpers import hit


def _signed_in(api, role: Role, organization=None):
    user = UserFactory(role=role, role__organization=organization)
    login(api, user.email, PASSWORD)
    return user


def _audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _tier(name: str) -> Tier:
    return db.session.scalar(select(Tier).where(Tier.name == name))


def _post_form(api, page_url: str, action: str, data: dict):
    token = csrf_token(api.get(page_url).get_data(as_text=True))
    return api.post(action, data={**data, "csrf_token": token})


def test_the_migration_seeds_four_tiers_with_standard_as_default():
    seeded = {t.name: t for t in db.session.scalars(select(Tier)) if not t.name.startswith("Test")}
    assert list(seeded) == ["Sandbox", "Standard", "Premium", "Enterprise"]
    assert [t.name for t in seeded.values() if t.is_default] == ["Standard"]
    standard = seeded["Standard"]
    assert (standard.burst_per_second, standard.requests_per_minute, standard.requests_per_day) == (
        10,
        600,
        50_000,
    )
    assert seeded["Sandbox"].requests_per_minute < seeded["Enterprise"].requests_per_minute


def test_an_organization_without_assignment_gets_the_default_tier(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    answer = hit(api, another_client(org.id))
    assert answer.headers["RateLimit-Policy"].startswith('"burst";q=10;w=1, "minute";q=600;w=60')


def test_procurement_admin_edits_a_tier_and_it_applies_at_once(api):
    tier = make_tier(burst_per_second=5)
    client = client_on(tier)
    assert '"burst";q=5;' in hit(api, client).headers["RateLimit-Policy"]
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    page = f"/admin/api-tiers/{tier.id}"
    answer = _post_form(
        api,
        page,
        page,
        {
            "name": tier.name,
            "description": "edited",
            "requests_per_minute": 120,
            "burst_per_second": 7,
            "requests_per_day": 9_000,
            "max_body_bytes": 2_000,
            "documents_per_day": 50,
        },
    )
    assert answer.status_code == 302
    policy = hit(api, client).headers["RateLimit-Policy"]
    assert policy == '"burst";q=7;w=1, "minute";q=120;w=60, "day";q=9000;w=86400'
    assert "throttling.tier_updated" in _audit_actions()


def test_tier_edit_refuses_a_burst_above_the_minute_rate(api):
    tier = make_tier()
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    page = f"/admin/api-tiers/{tier.id}"
    answer = _post_form(
        api,
        page,
        page,
        {
            "name": tier.name,
            "requests_per_minute": 5,
            "burst_per_second": 50,
            "requests_per_day": 100,
            "max_body_bytes": 10,
            "documents_per_day": 1,
        },
    )
    assert answer.status_code == 200
    assert "cannot be larger than the rate per minute" in answer.get_data(as_text=True)
    db.session.refresh(tier)
    assert tier.burst_per_second == 1_000


def test_only_procurement_admins_open_the_tier_pages(api):
    _signed_in(api, Role.PARTNER_ADMIN)
    for path in ("/admin/api-tiers", "/admin/api-tier-requests", "/admin/api-tier-assignments"):
        assert api.get(path).status_code == 403


def test_partner_requests_a_tier_and_the_request_waits_on_hold(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    _signed_in(api, Role.PARTNER_ADMIN, organization=org)
    premium = _tier("Premium")
    answer = _post_form(
        api,
        "/api-usage",
        "/api-usage/tier-request",
        {"tier": premium.id, "reason": "Black Friday volumes"},
    )
    assert answer.status_code == 302
    tier_request = db.session.scalar(
        select(TierRequest).where(TierRequest.organization_id == org.id)
    )
    assert tier_request.state == TierRequestState.PENDING
    assert tier_request.current_tier.name == "Standard"
    assert "waits for a procurement admin" in api.get("/api-usage").get_data(as_text=True)
    # A second request while one waits is refused.
    again = _post_form(
        api, "/api-usage", "/api-usage/tier-request", {"tier": premium.id, "reason": "again"}
    )
    assert again.status_code == 302
    count = db.session.scalars(select(TierRequest).where(TierRequest.organization_id == org.id))
    assert len(count.all()) == 1
    assert "throttling.tier_requested" in _audit_actions()


def test_approval_applies_to_the_very_next_request_without_new_tokens(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    client = client_on(_tier("Sandbox"), organization=org)
    assert '"burst";q=2;' in hit(api, client).headers["RateLimit-Policy"]
    requester = UserFactory(role=Role.PARTNER_ADMIN, role__organization=org)
    tier_request = services.request_tier(org, _tier("Enterprise"), "growth", actor=requester)
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    answer = _post_form(
        api,
        "/admin/api-tier-requests",
        f"/admin/api-tier-requests/{tier_request.id}",
        {"decision": "approve", "note": "ok for Q4"},
    )
    assert answer.status_code == 302
    # The same client (same token, were it real) is on Enterprise at once.
    assert '"burst";q=100;' in hit(api, client).headers["RateLimit-Policy"]
    db.session.refresh(tier_request)
    assert tier_request.state == TierRequestState.APPROVED
    assert db.session.get(OrganizationTier, org.id).tier.name == "Enterprise"
    assert "throttling.tier_request_approved" in _audit_actions()


def test_rejection_needs_a_reason_and_leaves_the_tier(api):
    org = OrganizationFactory(kind=OrgKind.SUPPLIER)
    requester = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=org)
    tier_request = services.request_tier(org, _tier("Premium"), "more", actor=requester)
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    url = f"/admin/api-tier-requests/{tier_request.id}"
    silent = _post_form(api, "/admin/api-tier-requests", url, {"decision": "reject", "note": ""})
    assert silent.status_code == 302
    db.session.refresh(tier_request)
    assert tier_request.state == TierRequestState.PENDING
    _post_form(api, "/admin/api-tier-requests", url, {"decision": "reject", "note": "not yet"})
    db.session.refresh(tier_request)
    assert tier_request.state == TierRequestState.REJECTED
    assert services.organization_tier(org.id).name == "Standard"


def test_a_client_override_beats_the_organization_tier(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    ordinary = client_on(_tier("Sandbox"), organization=org)
    special = registered_client(org)
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    page = f"/admin/api-tier-assignments/{org.id}"
    _post_form(
        api, page, f"{page}/overrides", {"api_client_id": special.id, "tier": _tier("Premium").id}
    )
    assert '"burst";q=30;' in hit(api, special).headers["RateLimit-Policy"]
    assert '"burst";q=2;' in hit(api, ordinary).headers["RateLimit-Policy"]
    # The same numeric id presented under another organization does not get the override.
    impostor = type(special)(special.id, "impostor", OrganizationFactory(kind=OrgKind.PARTNER).id)
    assert '"burst";q=10;' in hit(api, impostor).headers["RateLimit-Policy"]
    override = services.overrides_of(org.id)[0]
    _post_form(api, page, f"{page}/overrides/{override.id}/delete", {})
    assert '"burst";q=2;' in hit(api, special).headers["RateLimit-Policy"]
    assert {"throttling.client_override_set", "throttling.client_override_removed"} <= set(
        _audit_actions()
    )


def test_assigning_an_organization_tier_from_the_admin_page(api):
    org = OrganizationFactory(kind=OrgKind.SUPPLIER)
    client = another_client(org.id)
    _signed_in(api, Role.PROCUREMENT_ADMIN)
    listing = api.get("/admin/api-tier-assignments").get_data(as_text=True)
    assert org.name in listing
    page = f"/admin/api-tier-assignments/{org.id}"
    answer = _post_form(api, page, page, {"tier": _tier("Sandbox").id})
    assert answer.status_code == 302
    assert '"burst";q=2;' in hit(api, client).headers["RateLimit-Policy"]
    assert "throttling.tier_assigned" in _audit_actions()


def test_admin_pages_answer_404_for_an_override_of_another_organization(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    other = OrganizationFactory(kind=OrgKind.PARTNER)
    admin = UserFactory(role=Role.PROCUREMENT_ADMIN)
    foreign = registered_client(other)
    override = services.set_client_override(other, foreign.id, _tier("Premium"), actor=admin)
    login(api, admin.email, PASSWORD)
    page = f"/admin/api-tier-assignments/{org.id}"
    answer = _post_form(api, page, f"{page}/overrides/{override.id}/delete", {})
    assert answer.status_code == 404
    buyer = OrganizationFactory(kind=OrgKind.BUYER)
    assert api.get(f"/admin/api-tier-assignments/{buyer.id}").status_code == 404


def test_without_a_default_tier_the_tightest_one_applies():
    for tier in db.session.scalars(select(Tier)):
        tier.is_default = False
    db.session.flush()
    tightest = min(db.session.scalars(select(Tier)), key=lambda t: (t.requests_per_minute, t.id))
    assert services.default_tier().id == tightest.id
