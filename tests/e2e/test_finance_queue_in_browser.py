"""The finance queue's keyboard shortcuts in a real browser, under the CSP: j/k move through the
rows, ? shows and hides the list of shortcuts, a assigns the focused row when nothing is
ticked, Enter opens it; on the invoice, j/k go to the next and previous invoice of the same
filtered queue, a assigns it, u goes back (r on a held invoice: tests/e2e/test_journeys); the matching
figures load after the rows; and nothing is logged to the console."""

from __future__ import annotations

import os

import pytest

from app.demo import DEMO_PASSWORD, NETWORK_NAME
from tests.e2e.conftest import BIN, _run
from tests.e2e.test_demo_in_browser import _sign_in, browser, watch_console  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_shortcuts_move_through_the_queue_and_show_their_help(running_portal, browser):  # noqa: F811
    # A clerk of its own: the demo clerk may have set up two-step verification in another test.
    workdir = running_portal.log.parent
    env = os.environ | {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir / 'portal.sqlite'}",
    }
    email = "shortcuts.clerk@hospital.example"
    _run(
        [str(BIN / "flask"), "--app", "wsgi", "create-user", "--email", email,
         "--password", DEMO_PASSWORD, "--org", NETWORK_NAME, "--role", "finance_clerk"],
        env,
    )  # fmt: skip
    context = browser.new_context()
    page = context.new_page()
    errors = watch_console(page)
    _sign_in(page, running_portal.url, email)
    page.goto(f"{running_portal.url}/finance/holds?view=all")
    rows = page.locator("tr.queue-row")
    assert rows.count() >= 2
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert "focused" in (rows.nth(0).get_attribute("class") or "")
    assert "focused" not in (rows.nth(1).get_attribute("class") or "")
    help_box = page.locator("#shortcuts-help")
    assert help_box.is_visible()
    page.keyboard.press("?")
    assert not help_box.is_visible()
    assert errors == []

    # Every invoice, oldest first: the filter the invoice pages must keep. (No worker runs
    # here, so nothing is held yet: the journeys test r on a held invoice.)
    queue = f"{running_portal.url}/finance/holds?view=all&sort=oldest"
    page.goto(queue)
    page.locator("#kpis dl.kpis").wait_for()  # the figures, loaded after the rows
    rows = page.locator("tr.queue-row")
    hrefs = [rows.nth(n).get_attribute("data-href") for n in range(3)]
    assert all(href and href.endswith("?view=all&sort=oldest") for href in hrefs)
    # Nothing ticked: a assigns the focused (second) row to me, and only that one.
    page.keyboard.press("j")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert email in page.locator(f'tr.queue-row[data-href="{hrefs[1]}"]').inner_text()
    assert "1 of 1 invoices done." in page.content()
    page.goto(queue)
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(hrefs[0])
    with page.expect_navigation():
        page.keyboard.press("j")  # the next invoice of the same queue
    assert page.url.endswith(hrefs[1])
    with page.expect_navigation():
        page.keyboard.press("k")
    assert page.url.endswith(hrefs[0])
    with page.expect_navigation():
        page.keyboard.press("a")
    assert f"Assigned to {email}" in page.content()
    assert page.url.endswith(hrefs[0])  # back on the same invoice, the filter kept
    with page.expect_navigation():
        page.keyboard.press("u")
    assert page.url == queue
    assert errors == []
    context.close()
