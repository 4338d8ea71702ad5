"""What the browser journeys share: a portal of their own (web, worker, mock ERP, a Redis server
and a throwaway PostgreSQL database, each process a real one), and the checks every page a
journey loads passes (axe-core, a 390 px screen, no console error) with a screenshot per step
for the README's tour."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pyotp
import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page
from redis import Redis
from redis.exceptions import RedisError

from app.demo import DEMO_PASSWORD
from tests.chaos.cluster import create_database, drop_database
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
# How Chromium logs a page that answered with an error status (a refused form's 400 among them).
ERROR_STATUS = re.compile(
    r"^Failed to load resource: the server responded with a status of (\d{3})"
)
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
    database_url: str

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
        """Read the portal's database from outside the portal (%s placeholders)."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]

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


def _database_name() -> str:
    """A database of the journeys' own beside the test database (`<test database>_journeys`),
    so a run never touches the one the other tests migrate and empty."""
    template = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1/test")
    return f"{urlsplit(template).path.lstrip('/') or 'test'}_journeys"


@pytest.fixture(scope="module")
def journey_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Redis, the mock ERP, then the portal on a fresh PostgreSQL database, migrated and seeded
    with the demo data, its web (gunicorn) and one worker: every process a journey's documents
    go through. The database is dropped afterwards."""
    workdir = tmp_path_factory.mktemp("journeys")
    processes: list[subprocess.Popen] = []
    erp_log = (workdir / "mock_erp.log").open("wb")
    template = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1/test")
    database_url = create_database(template, _database_name())
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
            "DATABASE_URL": database_url,
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
        yield Portal(url, env, erp, workdir, database_url)
    finally:
        _stop(processes)
        erp_log.close()
        drop_database(database_url)


@dataclass
class Console:
    """What the page logged: every console error and uncaught error, with the URL it happened
    on, except the refusals a journey announced (`Journey.refused`)."""

    errors: list[str] = field(default_factory=list)
    # Statuses a form the journey submits is meant to answer with, not yet seen.
    expected_refusals: list[int] = field(default_factory=list)


def watch_console(page: Page) -> Console:
    """Watch the page's console from now on. A refused form answers 4xx with its errors on the
    page, and Chromium logs that status for the page itself: that is the portal speaking HTTP,
    not an error of the page, but only when the journey said that form would be refused; any
    other error status (a 403 or 404 page landed on, a missing favicon) is an error."""
    console = Console()
    page.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = ERROR_STATUS.match(message.text)
        if (
            status
            and int(status.group(1)) in console.expected_refusals
            and message.location.get("url") == page.url
        ):
            console.expected_refusals.remove(int(status.group(1)))
            return
        console.errors.append(f"{page.url}: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console.errors.append(f"{page.url}: {exc}"))
    return console


@dataclass
class Journey:
    """One role's walk through the portal: every page it loads checked, each step photographed.

    Each load of a portal page is counted; `check` (or `see`, which also takes the screenshot)
    must run once after each, so a page the journey passes through cannot go unchecked: a
    second load before the check fails the journey, naming the page that was skipped."""

    name: str
    page: Page
    console: Console
    base_url: str
    step: int = 0
    checked: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    loads_checked: int = 0

    def __post_init__(self) -> None:
        self.page.on("load", self._loaded)
        clear_screenshots(self.name)

    def chapter(self, name: str) -> None:
        """The same person's next chapter: its screenshots are named and numbered afresh."""
        self.name, self.step = name, 0
        clear_screenshots(name)

    def _loaded(self, page: Page) -> None:
        if page.url.startswith(self.base_url):  # an identity provider's pages are not ours
            self.loads.append(page.url)

    @property
    def errors(self) -> list[str]:
        return self.console.errors

    def check(self, what: str) -> None:
        """The page as it is now passes axe-core, fits a phone and logged no console error."""
        self.page.wait_for_load_state("load")
        unchecked = self.loads[self.loads_checked : -1]
        assert unchecked == [], (what, "pages loaded and left without a check", unchecked)
        self.loads_checked = len(self.loads)
        self.checked.append(f"{what}: {self.page.url}")
        check_accessible(self.page, what)
        check_fits_a_phone(self.page, what)
        assert self.console.expected_refusals == [], (what, "no refusal came", self.page.url)
        assert self.errors == [], (what, self.errors)

    def see(self, step: str, show: Locator | None = None) -> None:
        """Check the page, then save it as the journey's next screenshot (scrolled so that
        `show` is at the top when given)."""
        self.check(step)
        self.step += 1
        if show is not None:
            show.evaluate("(el) => el.scrollIntoView({block: 'start'})")
        screenshot(self.page, SCREENSHOTS / f"{self.name}-{self.step:02d}-{step}.png")

    def goto(self, path: str, what: str | None) -> None:
        """Open a page of the portal and check it (unless `what` is None: the caller's `see`
        will)."""
        response = self.page.goto(f"{self.base_url}{path}")
        assert response is not None, (what, path)
        assert response.ok, (what, path, response.status)
        if what is not None:
            self.check(what)

    @contextmanager
    def refused(self, status: int) -> Iterator[None]:
        """The form submitted inside is meant to be refused with `status` (its errors shown on
        the page): Chromium's console line for that status is no error of the page."""
        self.console.expected_refusals.append(status)
        yield
        self.page.wait_for_load_state("load")

    def done(self) -> None:
        """Every page the journey loaded was checked."""
        self.page.wait_for_load_state("load")
        unchecked = self.loads[self.loads_checked :]
        assert unchecked == [], (self.name, "pages loaded and left without a check", unchecked)
        assert self.errors == [], (self.name, self.errors)


@dataclass
class Authenticator:
    """The authenticator app of one person: a fresh code each time (the portal accepts each
    30-second step once, and the one after now for a slow clock)."""

    secret: str
    last_step: int = -1

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        while (step := max(int(time.time()) // totp.interval, self.last_step + 1)) > (
            int(time.time()) // totp.interval + 1
        ):
            time.sleep(1)
        self.last_step = step
        return totp.generate_otp(step)


AUTHENTICATORS: dict[str, Authenticator] = {}  # by email, as people enrol during a run


def turn_on_two_step(journey: Journey, email: str, what: str | None = "two-step setup") -> None:
    """On the set-up page (checked unless `what` is None: the caller did), read the secret
    into the person's authenticator and give its code."""
    page = journey.page
    if what is not None:
        journey.check(what)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    AUTHENTICATORS[email] = Authenticator(secret)
    page.get_by_label("Code").fill(AUTHENTICATORS[email].code())
    page.get_by_role("button", name="Turn on two-step verification").click()
    page.wait_for_load_state()


def give_code(journey: Journey, email: str, what: str = "two-step code") -> None:
    """On a page asking for the authenticator's code (sign-in or a sensitive page)."""
    journey.check(what)
    journey.page.get_by_label("Code").fill(AUTHENTICATORS[email].code())
    journey.page.get_by_role("button", name="Verify").click()
    journey.page.wait_for_load_state()


def sign_in(
    journey: Journey, email: str, password: str = DEMO_PASSWORD, *, step: str | None = None
) -> None:
    """Email, then password, then the second factor: its code, or (staff without one) setting
    it up on the spot. Every page on the way is checked, home too (the journey's next
    screenshot when `step` names it)."""
    page, url = journey.page, journey.base_url
    journey.goto("/login", "sign-in: email")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    expect_password = page.get_by_label("Password")
    expect_password.wait_for()
    journey.check("sign-in: password")
    expect_password.fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if "/account/mfa/setup" in page.url:
        turn_on_two_step(journey, email, "sign-in: two-step enrolment")
    elif "/login/verify" in page.url:
        give_code(journey, email, "sign-in: two-step code")
    page.wait_for_url(f"{url}/home")
    if step is None:
        journey.check("home")
    else:
        journey.see(step)


def clear_screenshots(name: str) -> None:
    """The journey's previous run: its steps may have changed."""
    for old in SCREENSHOTS.glob(f"{name}-[0-9][0-9]-*.png"):
        old.unlink()


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
