"""The ops console read during a fault, by an ops user signed in the way a browser signs in:
what the pipeline page (`/ops`) and the ERP page (`/ops/erp`) show while something is broken."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import pyotp
import requests

from tests.chaos.cluster import Cluster
from tests.conftest import TOTP_SECRET_RE, csrf_token
from tests.factories.accounts import PASSWORD

OPS_EMAIL = "ops@chaos.example"  # made by tests.chaos.seed
TIMEOUT = (2, 10)


def _dependency_down(name: str) -> Callable[[dict[str, str]], bool]:
    pattern = re.compile(rf'data-dependency="{name}">{name} <span class="badge badge-down">')
    return lambda pages: bool(pattern.search(pages["/ops"]))


def _figure(page: str, name: str) -> int | None:
    """A whole number the console shows as `data-figure="name"` (None when it is not shown)."""
    cell = re.search(rf'data-figure="{name}">(.*?)</(?:td|strong|span)>', page, re.S)
    if cell is None:
        return None
    number = re.search(r"\d+", re.sub(r"<[^>]+>", "", cell.group(1)))
    return int(number.group(0)) if number else None


def _above_zero(name: str) -> Callable[[dict[str, str]], bool]:
    return lambda pages: (_figure(pages["/ops"], name) or 0) > 0


def _erp_failing_with(kind: str) -> Callable[[dict[str, str]], bool]:
    """The console lists `kind` ("HTTP 503", "ConnectionError") among the last seconds'
    failures: the fault of this scenario, not what an earlier one left in the minutes."""
    return lambda pages: f'data-failure-now="{kind}"' in pages["/ops"]


def _breaker_not_closed(pages: dict[str, str]) -> bool:
    states = re.findall(r'data-breaker="[^"]+" data-state="([^"]+)"', pages["/ops"])
    return any(not state.startswith("closed") for state in states)


def _queues_unreadable(pages: dict[str, str]) -> bool:
    return "queue depths and workers cannot be read" in pages["/ops"]


WAITING_STAGES = ("received", "normalized", "validated", "posting")


def _documents_waiting(pages: dict[str, str]) -> bool:
    """The pipeline table counts documents now in a stage that is not an end."""
    waiting = 0
    for stage in WAITING_STAGES:
        row = re.search(rf'id="stage-{stage}".*?data-figure="now">(\d+)<', pages["/ops"], re.S)
        waiting += int(row.group(1)) if row else 0
    return waiting > 0


def _erp_answering(pages: dict[str, str]) -> bool:
    """Calls answered in the last seconds, none failed, the breaker closed."""
    page = pages["/ops"]
    calls, failures = _figure(page, "erp-calls-now"), _figure(page, "erp-failures-now")
    return bool(calls) and failures == 0 and not _breaker_not_closed(pages)


def _workers_all_alive(pages: dict[str, str]) -> bool:
    page = pages["/ops"]
    alive, registered = _figure(page, "workers"), _figure(page, "workers-registered")
    return bool(alive) and alive == registered and _figure(page, "workers-silent") is None


def _workers_stopped_beating(pages: dict[str, str]) -> bool:
    """Registered workers whose heartbeat stopped (killed, or stuck)."""
    return bool(_figure(pages["/ops"], "workers-silent"))


def _no_workers_registered(pages: dict[str, str]) -> bool:
    return 'id="no-workers"' in pages["/ops"]


# What the console must show during a fault, by name: each a test of the pages read.
SIGNS: dict[str, Callable[[dict[str, str]], bool]] = {
    "erp down": _dependency_down("erp"),
    "erp breaker open": _breaker_not_closed,
    "erp answering": _erp_answering,
    "erp errors": _above_zero("erp-failures-now"),
    "erp 500s": _erp_failing_with("HTTP 500"),
    "erp 503s": _erp_failing_with("HTTP 503"),
    "erp refused": _erp_failing_with("ConnectionError"),
    "erp timeouts": _above_zero("erp-timeouts-now"),
    "erp slow": _above_zero("erp-slow-now"),
    "redis down": _dependency_down("redis"),
    "queues unreadable": _queues_unreadable,
    "documents waiting": _documents_waiting,
    "workers all alive": _workers_all_alive,
    "workers stopped beating": _workers_stopped_beating,
    "no workers registered": _no_workers_registered,
    "work resent": lambda pages: (
        _above_zero("resent-now")(pages) or _above_zero("requeued-now")(pages)
    ),
    "db connections lost": _above_zero("db-lost-now"),
}


@dataclass
class ConsoleWatch:
    """Reads the console every POLL_SECONDS until the fault is over and notes each sign it
    showed."""

    cluster: Cluster
    expected: tuple[str, ...]
    seen: dict[str, float] = field(default_factory=dict)  # sign -> seconds into the watch
    reads: int = 0
    errors: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # per read: what it showed, shortened
    read_seconds: list[float] = field(default_factory=list)

    POLL_SECONDS = 0.25

    def missing(self) -> list[str]:
        return [sign for sign in self.expected if sign not in self.seen]

    def watch(self, session: requests.Session, fault_over: threading.Event) -> None:
        started = time.monotonic()
        while not fault_over.is_set() and self.missing():
            began = time.monotonic()
            try:
                pages = {path: self._page(session, path) for path in ("/ops", "/ops/erp")}
            except (requests.RequestException, AssertionError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            else:
                self.reads += 1
                self.read_seconds.append(round(time.monotonic() - began, 2))
                self.shown.append(_summary(pages["/ops"]))
                # Every sign is noted (an unexpected one tells as much as a missing one).
                for sign, shows in SIGNS.items():
                    if sign not in self.seen and shows(pages):
                        self.seen[sign] = round(time.monotonic() - started, 1)
            time.sleep(self.POLL_SECONDS)

    def _page(self, session: requests.Session, path: str) -> str:
        url = self.cluster.web_urls[0] + path
        response = session.get(url, allow_redirects=False, timeout=TIMEOUT)
        assert response.status_code == 200, f"{path} answered {response.status_code}"
        return response.text


def _dependencies(page: str) -> str:
    line = re.search(r'<p class="dependencies">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", line.group(1))[:200] if line else "?"


SUMMARY = (
    "erp-calls-now",
    "erp-failures-now",
    "erp-timeouts-now",
    "erp-slow-now",
    "db-lost-now",
    "resent-now",
    "requeued-now",
    "workers",
    "workers-registered",
    "workers-silent",
    "workers-started-now",
)


def _summary(page: str) -> str:
    """One read, shortened: the dependencies line, the figures of the last seconds and the
    breaker."""
    figures = " ".join(f"{name}={_figure(page, name)}" for name in SUMMARY)
    breaker = re.findall(r'data-breaker="([^"]+)" data-state="([^"]+)"', page)
    return f"{_dependencies(page)} | {figures} | breaker {breaker}"[:500]


_sessions: dict[str, requests.Session] = {}


def signed_in(cluster: Cluster) -> requests.Session:
    """The ops user's browser session, signed in once per cluster (its second factor is set up
    at the first sign-in, and a code is accepted once)."""
    if cluster.database_url not in _sessions:
        _sessions[cluster.database_url] = _sign_in(cluster)
    return _sessions[cluster.database_url]


def _sign_in(cluster: Cluster) -> requests.Session:
    """Password, then setting up the second factor with the key read off the set-up page, as a
    person would."""
    session = requests.Session()
    base = cluster.web_urls[0]
    page = session.get(f"{base}/login", timeout=TIMEOUT).text
    answer = session.post(
        f"{base}/login",
        data={"email": OPS_EMAIL, "password": PASSWORD, "csrf_token": csrf_token(page)},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    location = urljoin(base, answer.headers.get("Location", ""))
    if location.endswith("/account/mfa/setup"):
        page = session.get(location, timeout=TIMEOUT).text
        secret = TOTP_SECRET_RE.search(page).group(1).replace(" ", "")  # type: ignore[union-attr]
        session.post(
            location,
            data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)},
            timeout=TIMEOUT,
        )
    console = session.get(f"{base}/ops", allow_redirects=False, timeout=TIMEOUT)
    assert console.status_code == 200, f"ops sign-in failed: /ops answered {console.status_code}"
    return session
