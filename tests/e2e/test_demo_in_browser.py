"""What `make run` promises, seen in a real browser: every demo user signs in and sees the
navigation of their role, and /readyz reports all three dependencies up."""

from __future__ import annotations

import pyotp
import pytest
import requests
from playwright.sync_api import Page, sync_playwright

from app.accounts.access import NAVIGATION
from app.demo import DEMO_PASSWORD, demo_logins
from app.orgs.roles import Role

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Report CSP violations to the console too (Chromium logs them as errors already; this names
# the directive). Injected by the browser's own automation, so the page's CSP does not apply.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


def watch_console(page: Page) -> list[str]:
    """Every console error and uncaught page error from now on, with the URL it happened on."""
    errors: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


def expected_navigation(role: str) -> list[str]:
    """The links of NAVIGATION that this role holds, in order, after Home."""
    return ["Home", *(item.label for item in NAVIGATION if Role(role) in item.roles)]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _enter_email(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()


def _sign_in(page: Page, url: str, email: str) -> None:
    """Email, then password; staff without two-step verification enrol on the spot."""
    _enter_email(page, url, email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if page.url.endswith("/account/mfa/setup"):
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on two-step verification").click()
    page.wait_for_url(f"{url}/home")


def test_readyz_reports_all_dependencies_up(running_portal):
    body = requests.get(f"{running_portal.url}/readyz", timeout=5).json()
    assert body["status"] == "ready", body
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "up",
        "redis": "up",
        "erp": "up",
    }


def test_each_demo_user_signs_in_and_sees_their_navigation(running_portal, browser):
    seen_roles = set()
    for email, role in demo_logins():
        if role in seen_roles:
            continue
        seen_roles.add(role)
        context = browser.new_context()
        page = context.new_page()
        errors = watch_console(page)
        _sign_in(page, running_portal.url, email)
        links = page.get_by_role("navigation", name="Main").get_by_role("link")
        nav = links.all_inner_texts()
        assert nav == expected_navigation(role), (role, nav)
        # Every page of the role's navigation renders under the CSP without a console error.
        for href in [links.nth(i).get_attribute("href") for i in range(links.count())]:
            response = page.goto(f"{running_portal.url}{href}")
            assert response is not None
            assert response.ok, (role, href)
        assert errors == [], (role, errors)
        context.close()
    assert seen_roles == {r.value for r in Role}


def test_public_pages_log_no_console_error_or_csp_violation(running_portal, browser):
    context = browser.new_context()
    page = context.new_page()
    errors = watch_console(page)
    for path in ("/login", "/api/docs", "/static/portal.css"):
        response = page.goto(f"{running_portal.url}{path}")
        assert response is not None
        assert response.ok, path
    page.goto(f"{running_portal.url}/login")
    # The stylesheet applied: the sign-in button has the brand colour, not the browser's grey.
    colour = page.get_by_role("button", name="Continue").evaluate(
        "(el) => getComputedStyle(el).backgroundColor"
    )
    assert colour not in ("rgb(239, 239, 239)", "rgb(240, 240, 240)", "rgba(0, 0, 0, 0)"), colour
    missing = page.goto(f"{running_portal.url}/no-such-page")
    assert missing is not None
    assert missing.status == 404
    assert page.get_by_role("heading", level=1).is_visible()
    # The browser reports the 404 itself; anything else would be the page's fault.
    errors = [e for e in errors if "status of 404" not in e]
    assert errors == []
    context.close()


def test_supplier_browses_purchase_orders_from_the_erp(running_portal, browser):
    supplier_email = next(email for email, role in demo_logins() if role == "supplier_user")
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, running_portal.url, supplier_email)
    page.get_by_role("link", name="Purchase orders").first.click()
    rows = page.locator("table tbody tr")
    assert rows.count() > 0
    first_po = rows.first.get_by_role("link").inner_text()
    rows.first.get_by_role("link").click()
    assert page.get_by_role("heading", name=f"Purchase order {first_po}").is_visible()
    page.screenshot(path=str(running_portal.log.parent / "po.png"), full_page=True)
    context.close()


def test_wrong_password_and_sign_out_in_the_browser(running_portal, browser):
    context = browser.new_context()
    page = context.new_page()
    # A supplier user: staff would need the authenticator enrolled in an earlier test.
    email = next(email for email, role in demo_logins() if role == "supplier_user")
    _enter_email(page, running_portal.url, email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That email and password")
    _sign_in(page, running_portal.url, email)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{running_portal.url}/login")
    assert "You are signed out." in page.content()
    context.close()
