"""Invoices made VALIDATED by the real pipeline (intake, normalize, validate), ready to post,
against the real mock ERP (`portal_erp`) or the recording fake (`fake_portal_erp`)."""

from __future__ import annotations

import uuid

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentState
from app.erp.interface import PoStatus
from app.jobs import ERP_QUEUE, redis_connection
from app.orgs.models import Organization
from app.posting import breaker
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import invoice_for, send


@pytest.fixture(autouse=True)
def _fresh_local_breaker():
    breaker.reset_local()
    yield
    breaker.reset_local()


@pytest.fixture
def settings(app, monkeypatch):
    """Posting settings for one test: no wait between attempts, a breaker that stays closed
    unless the test says otherwise."""
    for name, value in {
        "POSTING_BACKOFF_BASE": 0.0,
        "POSTING_BACKOFF_CAP": 0.0,
        "POSTING_MAX_ATTEMPTS": 3,
        "BREAKER_FAILURE_THRESHOLD": 100,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    return app.config


@pytest.fixture
def fake_portal_erp(fake_erp):
    return fake_erp


@pytest.fixture
def lakeside() -> Organization:
    """A supplier that is vendor V1001 in the ERP's seed."""
    return OrganizationFactory(supplier=True, name="Lakeside Medical", erp_vendor_number="V1001")


def validated_invoice(client, org: Organization, erp) -> int:
    """Send a clean invoice for a received PO of the supplier and run it to VALIDATED."""
    billed = set(db.session.scalars(select(Document.po_number)))
    orders = erp.list_purchase_orders(vendor_number=org.erp_vendor_number)
    # A PO no earlier invoice of the test billed (billing it twice would be held).
    order = next(o for o in orders if o.status == PoStatus.RECEIVED and o.number not in billed)
    number = f"LK-{uuid.uuid4().hex[:10]}"
    document_id = send(client, org, invoice_for(org, order, number))
    run_jobs()
    assert document(document_id).state is DocumentState.VALIDATED
    return document_id


def run_erp_jobs() -> int:
    """Run what waits on the erp queue now (not the scheduled retries); how many were queued."""
    connection = redis_connection()
    erp_queue = Queue(ERP_QUEUE, connection=connection)
    queued = erp_queue.count
    SimpleWorker([erp_queue], connection=connection).work(burst=True)
    return queued
