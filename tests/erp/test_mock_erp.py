"""The mock ERP's own behaviour: auth, JSON errors, seed sizes, concurrency, payments, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter

import pytest
import requests

from app.erp.errors import ErpAuthError
from app.erp.interface import ApInvoice, PoStatus
from tests.erp.fixtures import ROOT, MockErpProcess
from tests.erp.helpers import invoice_for, non_po_invoice, unique

pytestmark = pytest.mark.no_db


def get(erp: MockErpProcess, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(erp.url + path, headers=headers, timeout=5)


def test_api_requires_the_bearer_key(erp_server: MockErpProcess) -> None:
    for token in (None, "wrong-key", erp_server.admin_key):
        response = get(erp_server, "/api/vendors", token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(erp_server, "/api/vendors", erp_server.api_key).status_code == 200


def test_client_with_a_wrong_key_gets_an_auth_error(erp_server: MockErpProcess) -> None:
    client = erp_server.client(api_key="wrong")
    with pytest.raises(ErpAuthError) as caught:
        client.list_facilities()
    assert caught.value.status == 401


def test_errors_are_json(erp_server: MockErpProcess) -> None:
    missing = get(erp_server, "/api/nowhere", erp_server.api_key)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    wrong_method = requests.delete(erp_server.url + "/api/vendors", timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    no_key = requests.post(
        erp_server.url + "/api/ap-invoices",
        json={},
        headers={"Authorization": f"Bearer {erp_server.api_key}"},
        timeout=5,
    )
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (
        400,
        "IDEMPOTENCY_KEY_REQUIRED",
    )


def test_correlation_id_is_echoed(erp_server: MockErpProcess) -> None:
    response = requests.get(
        erp_server.url + "/api/ping",
        headers={"Authorization": f"Bearer {erp_server.api_key}", "X-Correlation-ID": "abc-123"},
        timeout=5,
    )
    assert response.headers["X-Correlation-ID"] == "abc-123"


def test_seed_sizes(erp_server: MockErpProcess) -> None:
    erp_server.reset()
    client = erp_server.client()
    assert len(client.list_facilities()) == 3
    assert len(client.list_vendors()) == 20
    pos = client.list_purchase_orders()
    assert len(pos) == 200
    statuses = Counter(po.status for po in pos)
    assert set(statuses) == set(PoStatus)  # the seed uses every status the contract knows
    assert min(statuses.values()) >= 20
    assert 10 <= Counter(po.currency for po in pos)["EUR"] <= 60
    partial = next(po for po in pos if po.status == PoStatus.PARTIALLY_RECEIVED)
    assert any(line.quantity_received < line.quantity for line in partial.lines)
    assert client.list_receipts(partial.number)
    opened = next(po for po in pos if po.status == PoStatus.OPEN)
    assert client.list_receipts(opened.number) == []


def test_vendor_created_twice_by_tax_id_is_one_vendor(erp_server: MockErpProcess) -> None:
    payload = {"name": "Lakeview Surgical", "tax_id": "DE 136 695 976", "country": "DE"}
    headers = {"Authorization": f"Bearer {erp_server.api_key}"}
    first = requests.post(erp_server.url + "/api/vendors", json=payload, headers=headers, timeout=5)
    second = requests.post(
        erp_server.url + "/api/vendors", json=payload, headers=headers, timeout=5
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    matches = get(erp_server, "/api/vendors?tax_id=DE136695976", erp_server.api_key).json()
    assert matches["count"] == 1


def test_concurrent_posts_with_one_key_make_one_invoice(erp_server: MockErpProcess) -> None:
    client = erp_server.client()
    po = client.list_purchase_orders(vendor_number="V1009", status="OPEN")[0]
    payload, key = invoice_for(po), unique("key")
    clients = [erp_server.client() for _ in range(10)]
    start = threading.Barrier(len(clients))
    results: list[ApInvoice | BaseException] = []

    def post(erp) -> None:
        start.wait()
        try:
            results.append(erp.create_ap_invoice(payload, key))
        except BaseException as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(results) == 10
    assert all(r == results[0] for r in results), results
    listed = get(erp_server, "/api/ap-invoices?vendor_number=V1009", erp_server.api_key).json()
    same_number = [i for i in listed["items"] if i["invoice_number"] == payload["invoice_number"]]
    assert len(same_number) == 1


def test_replayed_answer_is_marked(erp_server: MockErpProcess) -> None:
    headers = {"Authorization": f"Bearer {erp_server.api_key}", "Idempotency-Key": unique("k")}
    body = non_po_invoice("V1008", total_amount="150.00")
    url = erp_server.url + "/api/ap-invoices"
    first = requests.post(url, json=body, headers=headers, timeout=5)
    second = requests.post(url, json=body, headers=headers, timeout=5)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert first.json()["total_amount"] == "150.00"  # money is a string, never a float
    assert [first.headers["Idempotent-Replayed"], second.headers["Idempotent-Replayed"]] == [
        "false",
        "true",
    ]


def test_mark_paid_through_admin_then_payment_status(erp_server: MockErpProcess) -> None:
    client = erp_server.client()
    invoice = client.create_ap_invoice(non_po_invoice("V1010"), unique("key"))
    paid = erp_server.admin(
        "POST",
        f"/admin/ap-invoices/{invoice.id}/pay",
        {"reference": "PAY-77", "date": "2025-11-20"},
    )
    assert paid.status_code == 200
    payment = client.get_payment(invoice.id)
    assert (payment.status, str(payment.paid_on), payment.reference) == (
        "PAID",
        "2025-11-20",
        "PAY-77",
    )
    assert client.get_ap_invoice(invoice.id).status == "PAID"


def test_mark_paid_from_the_command_line(erp_server: MockErpProcess) -> None:
    client = erp_server.client()
    invoice = client.create_ap_invoice(non_po_invoice("V1011"), unique("key"))
    env = os.environ | {"MOCK_ERP_DATABASE_URL": erp_server.database_url}
    command = [sys.executable, "-m", "flask", "--app", "app.erp.mock", "erp", "mark-paid"]
    done = subprocess.run(
        [*command, str(invoice.id), "--reference", "CHK-1001", "--date", "2025-11-21"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    payment = client.get_payment(invoice.id)
    assert (payment.status, payment.reference, str(payment.paid_on)) == (
        "PAID",
        "CHK-1001",
        "2025-11-21",
    )
