"""The finance queue's keyboard shortcuts in a real browser, under the CSP: j/k move through the
rows, ? shows and hides the list of shortcuts, and nothing is logged to the console."""

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
    context.close()
