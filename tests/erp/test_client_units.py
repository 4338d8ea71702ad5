"""ErpClient details that need no server, and the fake's test controls."""

from __future__ import annotations

import datetime as dt
import email.utils
from decimal import Decimal
from typing import Any

import pytest
import requests

from app.erp.client import ErpClient, _http_error
from app.erp.errors import ErpRejected, ErpUnavailable
from app.erp.fake import RecordingErp
from app.erp.interface import OPEN_PO_STATUSES, PoStatus, PurchaseOrder
from tests.erp.helpers import non_po_invoice, unique

pytestmark = pytest.mark.no_db


class CapturingSession(requests.Session):
    """Records what the client would send, then fails like a dead network."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent = {"method": method, "url": url, **kwargs}
        raise requests.ConnectionError("network down")


def test_every_call_has_timeouts_key_and_correlation_id() -> None:
    session = CapturingSession()
    client = ErpClient("http://erp.test/", "secret", 1.5, 4.0, session=session)
    with pytest.raises(ErpUnavailable) as caught:
        client.create_ap_invoice({"amount": Decimal("1.10")}, "key-1", correlation_id="corr-9")
    assert caught.value.reason == "connection_error"
    sent = session.sent
    assert sent["timeout"] == (1.5, 4.0)
    assert sent["url"] == "http://erp.test/api/ap-invoices"
    assert sent["headers"]["X-Correlation-ID"] == "corr-9"
    assert sent["headers"]["Idempotency-Key"] == "key-1"
    assert sent["data"] == b'{"amount": "1.10"}'  # Decimal travels as a string
    assert session.headers["Authorization"] == "Bearer secret"
    client.close()


def test_from_config_reads_erp_settings() -> None:
    client = ErpClient.from_config(
        {
            "ERP_URL": "http://erp.test",
            "ERP_API_KEY": "k",
            "ERP_CONNECT_TIMEOUT": "2",
            "ERP_READ_TIMEOUT": 9,
        }
    )
    assert (client.base_url, client.timeout) == ("http://erp.test", (2.0, 9.0))
    client.close()


def response(status: int, body: bytes = b"", **headers: str) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body
    answer.headers.update(headers)
    return answer


def test_retry_after_as_http_date() -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    error = _http_error(response(503, **{"Retry-After": email.utils.format_datetime(when)}))
    assert isinstance(error, ErpUnavailable)
    assert 100 < (error.retry_after or 0) <= 120


def test_422_becomes_a_rejection_with_its_code() -> None:
    body = b'{"error": {"code": "PO_CLOSED", "message": "closed"}}'
    error = _http_error(response(422, body))
    assert isinstance(error, ErpRejected)
    assert (error.code, error.retryable) == ("PO_CLOSED", False)


def test_po_statuses_are_the_wire_strings() -> None:
    assert [str(s) for s in PoStatus] == ["OPEN", "PARTIALLY_RECEIVED", "RECEIVED", "CLOSED"]
    assert OPEN_PO_STATUSES == ("OPEN", "PARTIALLY_RECEIVED", "RECEIVED")
    assert all(isinstance(s, PoStatus) for s in OPEN_PO_STATUSES)
    assert ", ".join(OPEN_PO_STATUSES) == "OPEN, PARTIALLY_RECEIVED, RECEIVED"
    assert "CLOSED" not in OPEN_PO_STATUSES


def test_a_po_dumps_its_status_as_the_wire_string() -> None:
    po = RecordingErp().list_purchase_orders(status="PARTIALLY_RECEIVED")[0]
    assert po.model_dump(mode="json")["status"] == "PARTIALLY_RECEIVED"
    assert PurchaseOrder.model_validate(po.model_dump(mode="json")) == po
    assert f"{po.status}" == "PARTIALLY_RECEIVED"  # templates and messages print the value


def test_fake_records_calls_and_fails_on_request() -> None:
    fake = RecordingErp()
    fake.fail_next(ErpUnavailable("down", reason="unavailable"), method="get_vendor")
    with pytest.raises(ErpUnavailable):
        fake.get_vendor("V1001", correlation_id="c-1")
    assert fake.get_vendor("V1001").number == "V1001"
    assert fake.calls_to("get_vendor")[0].kwargs == {"correlation_id": "c-1"}
    fake.available = False
    assert fake.ping() is False


def test_fake_mark_paid() -> None:
    fake = RecordingErp()
    invoice = fake.create_ap_invoice(non_po_invoice("V1008"), unique("key"))
    fake.mark_paid(invoice.id, "PAY-1", dt.date(2025, 11, 30))
    payment = fake.get_payment(invoice.id)
    assert (payment.status, payment.reference, payment.paid_on) == (
        "PAID",
        "PAY-1",
        dt.date(2025, 11, 30),
    )
