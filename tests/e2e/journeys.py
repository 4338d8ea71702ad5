"""What the browser journeys share: a portal of their own (web, worker, mock ERP and a Redis
server, each a real process), and the checks every page of a journey passes (axe-core, a 390 px
screen, no console error) with a screenshot per step for the README's tour."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page
from redis import Redis
from redis.exceptions import RedisError

from tests.e2e.conftest import BIN, ROOT, _run, _wait_ready
from tests.e2e.test_demo_in_browser import REPORT_VIOLATIONS
from tests.erp.fixtures import ADMIN_KEY, API_KEY, MockErpProcess, free_port

AXE = ROOT / "tests" / "oidc" / "node_modules" / "axe-core" / "axe.min.js"
# The README's tour shows these journeys' screenshots. A run writes them to a folder of its own
# (so `make test` leaves the working tree as it was); `make screenshots` runs the journeys with
# JOURNEY_SCREENSHOTS=docs/screenshots to renew the README's.
SCREENSHOTS = ROOT / os.environ.get("JOURNEY_SCREENSHOTS", "instance/journey-screenshots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1000, "height": 800}  # the README's screenshots
MAX_SCREENSHOT_BYTES = 100_000
FORM_REFUSED = "Failed to load resource: the server responded with a status of 4"
# What a journey's pages must never have; "moderate" and "minor" findings are reported only.
BLOCKING_IMPACTS = {"serious", "critical"}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""

# The last elements that reach past the screen's right edge (what to fix when one does).
WIDER_THAN_SCREEN = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .filter((el) => !el.parentElement.closest("table, pre"))  // these scroll in their own box
  .reverse()
  .slice(0, 5)
  .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
    + " " + (el.textContent || "").trim().slice(0, 40))"""


@dataclass
class Portal:
    """The journeys' portal: its URL, its environment (for CLI commands) and its mock ERP."""

    url: str
    env: dict[str, str]
    erp: MockErpProcess
    workdir: Path

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def flask_shell(self, script: str) -> None:
        """Run Python in the portal's app context (`flask shell`): set-up a journey assumes."""
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "shell"], input=script,
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, result.stderr

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.workdir / "portal.sqlite") as connection:
            return connection.execute(sql, params).fetchall()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_redis(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, "redis-server exited"
        try:
            if Redis(port=port, socket_connect_timeout=0.2).ping():
                return
        except RedisError:  # not listening yet
            time.sleep(0.05)
    pytest.fail("redis-server did not answer")


@pytest.fixture(scope="module")
def journey_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Redis, the mock ERP, then the portal migrated and seeded with the demo data, its web
    (gunicorn) and one worker: every process a journey's documents go through."""
    workdir = tmp_path_factory.mktemp("journeys")
    processes: list[subprocess.Popen] = []
    erp_log = (workdir / "mock_erp.log").open("wb")
    try:
        redis_port = free_port()
        processes.append(
            _start(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no"],
                workdir / "redis.log", dict(os.environ),
            )
        )  # fmt: skip
        _wait_for_redis(redis_port, processes[-1])
        erp_port = free_port()
        erp_env = os.environ | {
            "MOCK_ERP_PORT": str(erp_port),
            "MOCK_ERP_DATABASE_URL": f"sqlite:///{workdir / 'erp.sqlite'}",
            "MOCK_ERP_API_KEY": API_KEY,
            "MOCK_ERP_ADMIN_KEY": ADMIN_KEY,
            "PYTHONUNBUFFERED": "1",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "app.erp.mock"], cwd=ROOT, env=erp_env,
                stdout=erp_log, stderr=erp_log,
            )
        )  # fmt: skip
        erp = MockErpProcess(
            f"http://127.0.0.1:{erp_port}", API_KEY, ADMIN_KEY, erp_env["MOCK_ERP_DATABASE_URL"],
            processes[-1], erp_log,
        )  # fmt: skip
        erp.wait_until_up()
        env = os.environ | {
            "APP_ENV": "development",
            "INSTANCE_PATH": str(workdir),
            "DATABASE_URL": f"sqlite:///{workdir / 'portal.sqlite'}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "QUEUE_BACKEND": "redis",
            "ERP_URL": erp.url,
            "ERP_API_KEY": API_KEY,
            # The journey's invoice is above it: a clerk may not release it, a manager may.
            "FINANCE_RELEASE_LIMIT": "500",
            "PAYMENT_SYNC_MINUTES": "0",
            "PYTHONUNBUFFERED": "1",
        }
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        _run([*flask, "db", "upgrade"], env)
        _run([*flask, "seed-demo"], env)
        port = free_port()
        web_log = workdir / "web.log"
        processes.append(
            _start(
                [str(BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--threads", "4"],
                web_log, env,
            )
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, processes[-1], web_log)
        processes.append(_start([*flask, "worker"], workdir / "worker.log", env))
        yield Portal(url, env, erp, workdir)
    finally:
        _stop(processes)
        erp_log.close()


def watch_console(page: Page) -> list[str]:
    """Every console error and uncaught page error from now on, with the URL it happened on.
    A refused form answers 4xx with its errors on the page, and Chromium logs that status for
    the page itself: that one is the portal speaking HTTP, not an error of the page."""
    errors: list[str] = []
    page.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        refused_form = message.text.startswith(FORM_REFUSED) and (
            message.location.get("url") == page.url
        )
        if not refused_form:
            errors.append(f"{page.url}: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


@dataclass
class Journey:
    """One role's walk through the portal: every page checked, every step photographed."""

    name: str
    page: Page
    errors: list[str]
    step: int = 0
    checked: list[str] = field(default_factory=list)

    def see(self, step: str) -> None:
        """Check the page as it is now and save it as the journey's next screenshot."""
        self.page.wait_for_load_state("load")
        self.step += 1
        self.checked.append(f"{self.step:02d}-{step}: {self.page.url}")
        check_accessible(self.page, step)
        check_fits_a_phone(self.page, step)
        assert self.errors == [], (step, self.errors)
        screenshot(self.page, SCREENSHOTS / f"{self.name}-{self.step:02d}-{step}.png")


def check_accessible(page: Page, step: str) -> None:
    """axe-core (loaded into every page by the context) finds no serious or critical issue."""
    violations = page.evaluate(RUN_AXE)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert blocking == [], (step, page.url, blocking)


def check_fits_a_phone(page: Page, step: str) -> None:
    """At 390 px wide the page does not scroll sideways."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    culprits = page.evaluate(WIDER_THAN_SCREEN) if overflow > 0 else []
    if size:
        page.set_viewport_size(size)
    assert overflow <= 0, (step, page.url, f"{overflow}px wider than a 390 px screen", culprits)


def screenshot(page: Page, path: Path) -> None:
    """The visible 1000 x 800 page, as a PNG of at most 100 KB (fewer colours if it must)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    if path.stat().st_size > MAX_SCREENSHOT_BYTES:
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=64).save(path, optimize=True)
    assert path.stat().st_size <= MAX_SCREENSHOT_BYTES, path


def wait_for(predicate, what: str, portal: Portal, timeout: float = 30.0):
    """Poll until `predicate()` is truthy (the worker's pace), else fail with the logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}\n{portal.logs()}")
