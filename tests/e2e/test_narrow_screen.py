"""A supplier on a 390 px wide phone: the documents list, the upload page, the invoice form of
a PO and the API docs never scroll sideways, and no page logs a console error (favicon
included)."""

from __future__ import annotations

import pytest

from app.demo import demo_logins
from tests.e2e.test_demo_in_browser import _sign_in, browser, watch_console  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_supplier_pages_fit_a_390px_screen(running_portal, browser):  # noqa: F811
    email = next(email for email, role in demo_logins() if role == "supplier_user")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors = watch_console(page)
    _sign_in(page, running_portal.url, email)
    page.goto(f"{running_portal.url}/documents/from-po")
    po_form = page.locator("a[href^='/documents/from-po/']").first.get_attribute("href")
    for path in ("/documents", "/documents/upload", po_form, "/purchase-orders", "/api/docs"):
        response = page.goto(f"{running_portal.url}{path}")
        assert response is not None
        assert response.ok, path
        assert _overflow(page) <= 0, (path, _overflow(page))
    page.screenshot(path=str(running_portal.log.parent / "invoice-form-390.png"), full_page=True)
    assert errors == []
    context.close()
