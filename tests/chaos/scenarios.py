"""The scenarios: one fault each, injected while the load is in flight, then healed; then the
drain (wait for every accepted document to reach an end state) and the check.

A fault is a function of the cluster that starts FAULT_AFTER seconds into the load, hurts it
for about FAULT_SECONDS and heals it before it returns.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.chaos import console, load
from tests.chaos.cluster import Cluster
from tests.chaos.history import (
    POSTING_LANDED,
    ErpInvoice,
    Outcome,
    PortalDocument,
    Submission,
    check,
    is_done,
)

# Documents per scenario: CHAOS_DOCUMENTS tunes the load to the machine.
DOCUMENTS = int(os.environ.get("CHAOS_DOCUMENTS", "40"))
# The documents arrive over LOAD_SECONDS; the fault starts FAULT_AFTER seconds in and lasts
# about FAULT_SECONDS, so documents arrive before, during and after it.
LOAD_SECONDS = 6.0
FAULT_AFTER = 1.5
FAULT_SECONDS = 3.0
DRAIN_TIMEOUT = 90.0
# With no document reaching an end state for this long, run the sweep by hand (and count it):
# the periodic sweep runs every few seconds in the cluster, so needing this is a finding.
STALL_SECONDS = 20.0
POLL_SECONDS = 0.5

Fault = Callable[[Cluster], None]
rng = random.Random(13)  # noqa: S311 - which worker dies is chaos, not security


def no_fault(cluster: Cluster) -> None:
    """Nothing goes wrong (for as long as a fault would last, while the console is read): the
    baseline every other scenario is compared with."""
    time.sleep(FAULT_SECONDS)


def kill_workers(cluster: Cluster) -> None:
    """kill -9 a random worker (and its work horse) every half second, restarted at once."""
    until = time.monotonic() + FAULT_SECONDS
    while time.monotonic() < until:
        rng.choice(cluster.workers).restart()
        time.sleep(0.5)


def flush_redis(cluster: Cluster) -> None:
    """FLUSHDB on the portal's Redis database, twice: queued jobs, schedules, registries gone."""
    cluster.redis.flushdb()
    time.sleep(FAULT_SECONDS / 2)
    cluster.redis.flushdb()


def stop_redis(cluster: Cluster) -> None:
    """Redis down for a while, then up again with its data."""
    cluster.redis.stop()
    time.sleep(FAULT_SECONDS)
    cluster.redis.start()


def erp_faults(**faults: object) -> Fault:
    def fault(cluster: Cluster) -> None:
        cluster.erp.set_faults(**faults)
        time.sleep(FAULT_SECONDS)
        cluster.erp.clear_faults()

    fault.__doc__ = f"The ERP with {faults} for a while."
    return fault


def terminate_backends(cluster: Cluster) -> None:
    """pg_terminate_backend on every connection of the portal, again and again."""
    until = time.monotonic() + FAULT_SECONDS
    while time.monotonic() < until:
        cluster.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        time.sleep(0.5)


def twice(documents: list[load.Document]) -> list[list[load.Document]]:
    """Each document three times at once: twice with the same Idempotency-Key, and once more
    with the same payload under a key of its own (a client that lost track)."""
    return [[d, d, _rekeyed(d)] for d in documents]


def _rekeyed(document: load.Document) -> load.Document:
    return load.Document(
        document.key + "-again", document.kind, document.supplier, document.number, document.body
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    batches: Callable[[list[load.Document]], list[list[load.Document]]] = lambda d: [[x] for x in d]
    documents: int = DOCUMENTS
    # What the ops console must show while the fault lasts (names in console.SIGNS).
    console: tuple[str, ...] = ()


HEALTHY = ("erp answering", "workers all alive")

SCENARIOS = [
    Scenario("baseline", no_fault, console=HEALTHY),
    # Right after the baseline: an ERP failing in the scenario before would still show in the
    # console's last seconds.
    Scenario("submit-twice", no_fault, batches=twice, documents=DOCUMENTS // 3, console=HEALTHY),
    Scenario(
        "kill-workers", kill_workers, console=("workers stopped beating", "documents waiting")
    ),
    Scenario("redis-flushdb", flush_redis, console=("no workers registered",)),
    Scenario("redis-stop", stop_redis, console=("redis down", "queues unreadable")),
    Scenario("erp-slow", erp_faults(latency_ms=1500), console=("erp slow",)),
    Scenario("erp-hang", erp_faults(hang=True, hang_seconds=30), console=("erp timeouts",)),
    Scenario("erp-fail-50", erp_faults(error_rate=0.5), console=("erp 500s",)),
    # The breaker is on the console, but not asserted: a 3-second fault may not trip it, and
    # the scenario before may leave it open.
    Scenario("erp-503", erp_faults(unavailable=True, retry_after=1), console=("erp 503s",)),
    Scenario(
        "erp-refuse",
        erp_faults(refuse_seconds=FAULT_SECONDS),
        console=("erp down", "documents waiting", "erp refused"),
    ),
    # A request or job whose connection is killed under it runs again on a fresh one
    # (app.db.unit_of_work_retried): no client sees it; the console counts the connections.
    Scenario("pg-terminate", terminate_backends, console=("db connections lost",)),
]


@dataclass
class Run:
    """One scenario as it runs: its history and what the drain saw."""

    scenario: Scenario
    cluster: Cluster
    history: list[Submission] = field(default_factory=list)
    erp_before: set[int] = field(default_factory=set)
    manual_sweeps: int = 0
    drain_seconds: float = 0.0
    fault_error: Exception | None = None
    console_watch: console.ConsoleWatch | None = None
    fault_over: threading.Event = field(default_factory=threading.Event)

    def execute(self, client: load.Client) -> Outcome:
        self.erp_before = {i.id for i in erp_invoices(self.cluster)}
        documents = load.documents(self.cluster, self.scenario.name, self.scenario.documents)
        threads = [threading.Thread(target=self._inject, name=f"fault-{self.scenario.name}")]
        if self.scenario.console:
            self.console_watch = console.ConsoleWatch(self.cluster, self.scenario.console)
            session = console.signed_in(self.cluster)
            watch = self.console_watch.watch
            threads.append(threading.Thread(target=self._watch, args=(watch, session)))
        for thread in threads:
            thread.start()
        try:
            self.history = load.send_all(client, self.scenario.batches(documents), LOAD_SECONDS)
        finally:
            for thread in threads:
                thread.join()
        if self.fault_error is not None:
            raise RuntimeError("the fault could not be injected or healed") from self.fault_error
        self.cluster.ensure_workers()
        self.cluster.assert_healed()
        self._drain()
        return self.outcome()

    def _inject(self) -> None:
        time.sleep(FAULT_AFTER)
        try:
            self.scenario.fault(self.cluster)
        except Exception as exc:  # re-raised by execute(), in the test's thread
            self.fault_error = exc
        finally:
            self.fault_over.set()

    def _watch(self, watch: Callable, session: object) -> None:
        time.sleep(FAULT_AFTER + 0.3)  # the fault is on
        watch(session, self.fault_over)

    def _drain(self) -> None:
        started = last_progress = time.monotonic()
        done_before = -1
        while time.monotonic() - started < DRAIN_TIMEOUT:
            self.cluster.ensure_workers()  # a supervisor restarts a worker that died
            documents = self.portal_documents()
            done = sum(1 for d in documents.values() if is_done(d))
            if done == len(documents) and self._all_seen(documents):
                break
            if done != done_before:
                done_before, last_progress = done, time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                self.cluster.flask("documents", "sweep")
                if POSTING_LANDED:  # its reconciler re-enqueues documents with no live job
                    self.cluster.flask("documents", "reconcile")
                self.manual_sweeps += 1
                last_progress = time.monotonic()
            time.sleep(POLL_SECONDS)
        self.drain_seconds = time.monotonic() - started

    def _all_seen(self, documents: dict[int, PortalDocument]) -> bool:
        return all(i in documents for s in self.history for i in s.document_ids)

    def recorded_keys(self) -> dict[str, set[int]]:
        rows = self.cluster.sql(
            "SELECT key, response_body FROM idempotency_keys WHERE key LIKE %s",
            f"chaos-{self.scenario.name}-%",
        )
        return {key: {d["id"] for d in body["documents"]} for key, body in rows}

    def portal_documents(self) -> dict[int, PortalDocument]:
        ids = {i for s in self.history for i in s.document_ids}
        ids |= {i for found in self.recorded_keys().values() for i in found}
        rows = self.cluster.sql(
            "SELECT d.id, d.kind, d.state, o.erp_vendor_number, d.document_number"
            " FROM documents d JOIN organizations o ON o.id = d.supplier_org_id"
            " WHERE d.id = ANY(%s)",
            sorted(ids),
        )
        return {row[0]: PortalDocument(*row) for row in rows}

    def outcome(self) -> Outcome:
        new_in_erp = [i for i in erp_invoices(self.cluster) if i.id not in self.erp_before]
        outcome = check(
            self.scenario.name,
            self.history,
            self.portal_documents(),
            self.recorded_keys(),
            new_in_erp,
        )
        outcome.drain_seconds = self.drain_seconds
        outcome.manual_sweeps = self.manual_sweeps
        return outcome


def erp_invoices(cluster: Cluster) -> list[ErpInvoice]:
    cluster.erp.wait_until_up()
    response = requests.get(
        f"{cluster.erp.url}/api/ap-invoices",
        headers={"Authorization": f"Bearer {cluster.erp.api_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return [
        ErpInvoice(row["id"], row["vendor_number"], row["invoice_number"])
        for row in response.json()["items"]
    ]
