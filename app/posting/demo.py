"""Demo invoices at the end of the pipeline, made through the real path against the running
mock ERP: one POSTED then PAID (the mock ERP's mark-paid admin endpoint pays it, payment sync
picks it up) and one DEAD waiting for replay (posted while the mock ERP answers 500 to every
call, until the attempts run out). Without a reachable ERP it does nothing: the worker posts the
clean demo invoices once the ERP is up, and `flask seed-demo` may be run again later."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import requests
import structlog
from flask import current_app

from app.db import utcnow
from app.documents.models import DocumentState
from app.documents.queries import locked_document
from app.erp import get_erp
from app.matching import services as matching
from app.normalize import services as normalizing
from app.posting import payments, services

log = structlog.get_logger(__name__)
ADMIN_TIMEOUT = (2.0, 10.0)


def settle(paid_id: int, dead_id: int) -> bool:
    """Take two freshly received clean invoices to PAID and to DEAD; False without an ERP."""
    if not get_erp().ping():
        log.info("demo: no ERP reachable, paid and dead demo invoices left to the worker")
        return False
    for document_id in (paid_id, dead_id):
        _run(document_id, normalizing.normalize)
        _run(document_id, matching.validate)
    try:
        _paid(paid_id)
        _dead(dead_id)
    except requests.RequestException:
        # The ERP answers but its admin API does not take our key: not the mock ERP we know.
        log.warning("demo: the mock ERP's admin API refused; demo invoices left as they are")
        return False
    return True


def _paid(document_id: int) -> None:
    if _state(document_id) != DocumentState.VALIDATED or services.post(document_id) != "posted":
        return
    attempt = services.latest_attempt(document_id)
    if attempt is not None and attempt.erp_ap_invoice_id is not None:
        _admin(
            "POST",
            f"/admin/ap-invoices/{attempt.erp_ap_invoice_id}/pay",
            {"reference": "ACH-DEMO-1"},
        )
        payments.sync_due(utcnow())


def _dead(document_id: int) -> None:
    if _state(document_id) != DocumentState.VALIDATED:
        return
    with _failing_erp(), _no_waiting():
        for _ in range(int(current_app.config["POSTING_MAX_ATTEMPTS"])):
            if services.post(document_id) == "dead":
                break


def _run(document_id: int, work: Callable[[Any], DocumentState]) -> None:
    document = locked_document(document_id)
    if document is not None:
        work(document)


def _state(document_id: int) -> DocumentState | None:
    document = locked_document(document_id)
    return document.state if document is not None else None


def _admin(method: str, path: str, body: dict[str, Any] | None = None) -> None:
    config = current_app.config
    base_url = getattr(get_erp(), "base_url", config["ERP_URL"])
    response = requests.request(
        method,
        base_url.rstrip("/") + path,
        json=body,
        headers={"Authorization": f"Bearer {config['MOCK_ERP_ADMIN_KEY']}"},
        timeout=ADMIN_TIMEOUT,
    )
    response.raise_for_status()


@contextlib.contextmanager
def _failing_erp() -> Iterator[None]:
    _admin("PUT", "/admin/faults", {"error_rate": 1.0})
    try:
        yield
    finally:
        _admin("DELETE", "/admin/faults")


@contextlib.contextmanager
def _no_waiting() -> Iterator[None]:
    """No backoff between the demo's attempts, and a breaker that does not open over them."""
    config = current_app.config
    saved = {
        k: config[k]
        for k in ("POSTING_BACKOFF_BASE", "POSTING_BACKOFF_CAP", "BREAKER_FAILURE_THRESHOLD")
    }
    config.update(
        POSTING_BACKOFF_BASE=0.0, POSTING_BACKOFF_CAP=0.0, BREAKER_FAILURE_THRESHOLD=10_000
    )
    try:
        yield
    finally:
        config.update(saved)
