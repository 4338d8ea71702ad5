"""Procurement's pages: the organization list links to a detail page with the full history,
the review queue and the invitations list."""

from __future__ import annotations

from tests.onboarding.helpers import text


def test_the_list_links_to_the_detail_page_with_the_full_history(
    submitted_supplier, procurement, supplier_admin
):
    listing = text(procurement.browser.get("/admin/organizations?status=SUBMITTED"))
    link = f'href="/admin/onboarding/{submitted_supplier.id}"'
    assert link in listing
    page = text(procurement.browser.get(f"/admin/onboarding/{submitted_supplier.id}"))
    history = page.split("<h2>History</h2>")[1]
    for action in (
        "organization.submitted",
        "screening.run",
        "onboarding.document_uploaded",
        "onboarding.profile_saved",
    ):
        assert action in history, action
    assert supplier_admin.email in history
    assert submitted_supplier.tax_id not in page  # tax id masked everywhere


def test_the_queue_shows_submitted_profiles(submitted_supplier, procurement):
    page = text(procurement.browser.get("/admin/onboarding"))
    assert f'/admin/onboarding/{submitted_supplier.id}"' in page


def test_navigation_offers_onboarding_to_the_right_roles(client, supplier_admin, procurement):
    assert 'href="/onboarding"' in text(client.get("/home"))
    staff_home = text(procurement.browser.get("/home"))
    assert 'href="/admin/onboarding"' in staff_home
    assert 'href="/admin/onboarding/invitations"' in staff_home
    assert 'href="/onboarding"' not in staff_home
