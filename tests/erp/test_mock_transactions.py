"""The mock ERP commits a request whole or not at all: a request that fails half-way leaves
nothing behind, so the client may repeat it. Runs the mock in-process to make it fail on cue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.erp.mock import create_app, models, render, seed
from tests.erp.helpers import non_po_invoice, unique

pytestmark = pytest.mark.no_db

API = {"Authorization": "Bearer k"}
ADMIN = {"Authorization": "Bearer a"}


def fail(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("the ERP fell over half-way")


@pytest.fixture(scope="module")
def mock_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    path: Path = tmp_path_factory.mktemp("mock_erp_tx") / "erp.sqlite"
    app = create_app(
        {
            "MOCK_ERP_DATABASE_URL": f"sqlite:///{path}",
            "MOCK_ERP_API_KEY": "k",
            "MOCK_ERP_ADMIN_KEY": "a",
            "MOCK_ERP_PORT": 0,
        }
    )
    yield app
    app.extensions["mock_erp"].engine.dispose()


@pytest.fixture
def client(mock_app: Flask) -> FlaskClient:
    return mock_app.test_client()


def count(app: Flask, query: Any) -> int:
    with app.extensions["mock_erp"].sessions() as session:
        return session.scalar(query) or 0


def invoices_numbered(app: Flask, invoice_number: str) -> int:
    where = models.ApInvoice.invoice_number == invoice_number
    return count(app, select(func.count(models.ApInvoice.id)).where(where))


def keys_stored(app: Flask, key: str) -> int:
    where = models.IdempotencyRecord.key == key
    return count(app, select(func.count(models.IdempotencyRecord.id)).where(where))


def book(client: FlaskClient, body: dict[str, Any], key: str) -> Any:
    return client.post("/api/ap-invoices", json=body, headers=API | {"Idempotency-Key": key})


def test_a_failed_invoice_request_books_nothing_and_frees_its_key(
    mock_app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, key = non_po_invoice("V1008", invoice_number=unique("INV")), unique("key")
    with monkeypatch.context() as patch:
        # Fails after the key's record and the invoice's rows have been flushed.
        patch.setattr(render, "ap_invoice", fail)
        failed = book(client, body, key)
    assert (failed.status_code, failed.json["error"]["code"]) == (500, "INTERNAL_ERROR")
    assert invoices_numbered(mock_app, body["invoice_number"]) == 0
    assert keys_stored(mock_app, key) == 0

    retried = book(client, body, key)
    assert (retried.status_code, retried.headers["Idempotent-Replayed"]) == (201, "false")
    assert invoices_numbered(mock_app, body["invoice_number"]) == 1


def test_a_rejection_is_committed_with_its_key(mock_app: Flask, client: FlaskClient) -> None:
    # A business refusal is an answer, not a failure: the key keeps it, the work is undone.
    body, key = non_po_invoice("V1004", invoice_number=unique("INV")), unique("key")
    first, second = book(client, body, key), book(client, body, key)
    assert (first.status_code, second.status_code) == (422, 422)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert keys_stored(mock_app, key) == 1
    assert invoices_numbered(mock_app, body["invoice_number"]) == 0


def test_a_failed_payment_leaves_the_invoice_unpaid(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = book(client, non_po_invoice("V1010"), unique("key")).json
    with monkeypatch.context() as patch:
        patch.setattr(render, "payment", fail)
        failed = client.post(
            f"/admin/ap-invoices/{invoice['id']}/pay", json={"reference": "PAY-9"}, headers=ADMIN
        )
    assert failed.status_code == 500
    payment = client.get(f"/api/ap-invoices/{invoice['id']}/payment", headers=API).json
    assert (payment["status"], payment["reference"]) == ("UNPAID", None)


def test_a_failed_vendor_request_creates_no_vendor(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {"name": "Half Written Medical", "tax_id": "27-7654321", "country": "US"}
    with monkeypatch.context() as patch:
        patch.setattr(render, "vendor", fail)
        failed = client.post("/api/vendors", json=payload, headers=API)
    assert failed.status_code == 500
    listed = client.get("/api/vendors?tax_id=277654321", headers=API).json
    assert listed["count"] == 0


def test_a_failed_reset_keeps_the_previous_data(
    mock_app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = non_po_invoice("V1008", invoice_number=unique("INV"))
    assert book(client, body, unique("key")).status_code == 201
    with monkeypatch.context() as patch:
        # Fails after the tables were dropped and created again, before the seed is loaded.
        patch.setattr(seed, "load_seed", fail)
        failed = client.post("/admin/reset", headers=ADMIN)
    assert failed.status_code == 500
    assert invoices_numbered(mock_app, body["invoice_number"]) == 1
    assert client.get("/api/purchase-orders", headers=API).json["count"] == 200
