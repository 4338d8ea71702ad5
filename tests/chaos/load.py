"""The load: JSON invoices that match the mock ERP's purchase orders cleanly (and a few
acknowledgments), sent by client threads through both web processes, each retried with its
Idempotency-Key the way a well-behaved partner retries: on no answer, a 5xx, a 429 or a 409 that
says when to come back (the same key or the same bytes still in flight: `Retry-After`), with
backoff, and never with a new key. A 409 without `Retry-After` (these bytes were received
before) is an answer: retrying it cannot change it."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import requests

from app.erp.interface import PoStatus, PurchaseOrder
from app.erp.mock.seed import build_seed
from app.intake import flip
from tests.chaos.cluster import Cluster, Supplier
from tests.chaos.history import NO_ANSWER, Submission

CLIENT_THREADS = 8
ATTEMPTS = 8
BACKOFF_SECONDS = (0.2, 0.5, 1, 2, 3, 4, 5)
REQUEST_TIMEOUT = (2, 10)
ACK_EVERY = 15  # one document in this many is an acknowledgment


@dataclass(frozen=True)
class Document:
    """A payload to send and what the history records about it."""

    key: str
    kind: str
    supplier: Supplier
    number: str
    body: bytes


def documents(cluster: Cluster, scenario: str, count: int) -> list[Document]:
    """`count` documents of the scenario, spread over the cluster's suppliers and their POs."""
    orders = {s.vendor_number: _received_orders(s.vendor_number) for s in cluster.suppliers}
    cycle = itertools.cycle(
        [(s, order) for s in cluster.suppliers for order in orders[s.vendor_number]]
    )
    made = []
    for index, (supplier, order) in zip(range(count), cycle, strict=False):
        # Numbers no two documents share, nor write alike: a likely duplicate is held.
        number = "CH" + hashlib.sha256(f"{scenario}-{index}".encode()).hexdigest()[:10].upper()
        kind = "acknowledgment" if index % ACK_EVERY == ACK_EVERY - 1 else "invoice"
        body = (
            _ack(order, number) if kind == "acknowledgment" else _invoice(supplier, order, number)
        )
        made.append(Document(f"chaos-{scenario}-{index}", kind, supplier, number, body))
    return made


def _received_orders(vendor_number: str) -> list[PurchaseOrder]:
    received = (PoStatus.RECEIVED, PoStatus.PARTIALLY_RECEIVED)
    return [
        po.as_purchase_order()
        for po in build_seed().purchase_orders
        if po.vendor_number == vendor_number and po.status in received
    ]


def _invoice(supplier: Supplier, order: PurchaseOrder, number: str) -> bytes:
    """A hundredth of each received line, so every scenario's invoices on a PO stay within what
    was received and match cleanly: they go on to the ERP, where the ERP faults bite."""
    lines = [
        flip.FlipLine(line.line_number, Decimal("0.01"), line.unit_price)
        for line in order.lines
        if line.quantity_received > 0
    ]
    invoice = flip.invoice_from_po(
        order,
        lines,
        supplier=flip.FlipSupplier(supplier.org_id, supplier.name, supplier.vendor_number),
        invoice_number=number,
        issue_date=dt.datetime.now(dt.UTC).date(),
    )
    return json.dumps(invoice).encode()


def _ack(order: PurchaseOrder, number: str) -> bytes:
    ack = {
        "schema_version": "1",
        "ack_number": number,
        "po_number": order.number,
        "issue_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "status": "accepted",
        "lines": [{"po_line": str(line.line_number), "status": "accept"} for line in order.lines],
    }
    return json.dumps(ack).encode()


class Client:
    """Submits documents through the web processes in turn, one token per supplier."""

    def __init__(self, cluster: Cluster) -> None:
        self.urls = itertools.cycle(cluster.web_urls)
        self._lock = threading.Lock()
        self._tokens = {s.client_id: self._token(cluster.web_urls[0], s) for s in cluster.suppliers}
        self._local = threading.local()

    def _token(self, url: str, supplier: Supplier) -> str:
        response = requests.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(supplier.client_id, supplier.client_secret),
            timeout=REQUEST_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def _next_url(self) -> str:
        with self._lock:
            return next(self.urls)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def submit(self, document: Document, submission: Submission) -> None:
        """Send until an answer that is not an error (or the attempts run out)."""
        path = "invoices" if document.kind == "invoice" else "acknowledgments"
        headers = {
            "Authorization": f"Bearer {self._tokens[document.supplier.client_id]}",
            "Content-Type": "application/json",
            "Idempotency-Key": document.key,
        }
        for attempt in range(ATTEMPTS):
            status = self._post(f"{self._next_url()}/api/v1/{path}", document.body, headers)
            submission.statuses.append(status.code)
            if status.code >= 500:
                submission.errors.append(status.error)
            submission.document_ids |= status.document_ids
            if status.code != NO_ANSWER and status.code < 500 and not status.come_back:
                return
            time.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            response = self._session().post(
                url, data=body, headers=headers, timeout=REQUEST_TIMEOUT
            )
        except requests.RequestException:
            self._local.__dict__.pop("session", None)  # start again on a fresh connection
            return Answer(NO_ANSWER, set())
        ids = set()
        if response.status_code == 202:
            ids = {d["id"] for d in response.json()["documents"]}
        come_back = response.status_code == 429 or (
            response.status_code == 409 and "Retry-After" in response.headers
        )
        return Answer(response.status_code, ids, _problem_type(response), come_back)


@dataclass(frozen=True)
class Answer:
    code: int
    document_ids: set[int]
    error: str = ""
    come_back: bool = False  # a 429, or a 409 with Retry-After: the same request again later


def _problem_type(response: requests.Response) -> str:
    """What a 5xx says it is: `503 token-check-unavailable`, say."""
    if response.status_code < 500:
        return ""
    try:
        kind = response.json().get("type", "")
    except ValueError:
        kind = response.text[:60]
    return f"{response.status_code} {kind.rsplit('/', 1)[-1]}".strip()


def submission_of(document: Document) -> Submission:
    return Submission(document.key, document.kind, document.supplier.vendor_number, document.number)


def send_all(client: Client, batches: list[list[Document]], seconds: float) -> list[Submission]:
    """Send the batches spread evenly over `seconds` (so a fault injected meanwhile meets
    documents arriving), each batch's documents at the same moment from different threads:
    a batch of two is the same document sent twice at once."""
    history: list[Submission] = []
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        futures = []
        for index, batch in enumerate(batches):
            time.sleep(max(0.0, started + index * seconds / len(batches) - time.monotonic()))
            for document in batch:
                submission = submission_of(document)
                history.append(submission)
                futures.append(pool.submit(client.submit, document, submission))
        for future in futures:
            future.result()
    return history


def one_by_one(documents: list[Document]) -> Iterator[list[Document]]:
    return ([document] for document in documents)
