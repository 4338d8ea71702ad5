"""The one piece of the portal that talks to the ERP over HTTP (the "system API").

Every call has explicit (connect, read) timeouts and turns each transport or HTTP failure into
an ``app.erp.errors`` exception. It never retries: the caller (the post job, with its backoff
and circuit breaker) decides, guided by ``ErpError.retryable``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import structlog
from blinker import Namespace
from pydantic import BaseModel, ValidationError

from app.erp.errors import ErpAuthError, ErpError, ErpNotFound, ErpRejected, ErpUnavailable
from app.erp.interface import (
    Acknowledgment,
    ApInvoice,
    CostCentre,
    ErpEvent,
    Facility,
    Item,
    Payload,
    Payment,
    PurchaseOrder,
    Receipt,
    Vendor,
)
from app.pipeline import document_at_work

log = structlog.get_logger("erp.client")

# Sent after every HTTP exchange with the ERP (metrics and the ops record of calls listen),
# with one ErpCall as the sender.
erp_called = Namespace().signal("erp-called")


@dataclass(frozen=True)
class ErpCall:
    """One exchange as listeners see it: the endpoint as a template (`/api/vendors/{id}`, so a
    label never carries a document's own numbers), the status or the transport error; then the
    path as sent, the ERP's error message, the correlation id and Idempotency-Key, and the
    document it was made for, if any."""

    method: str
    endpoint: str
    status: int | None
    error: str | None
    seconds: float
    path: str = ""
    detail: str | None = None
    correlation_id: str | None = None
    idempotency_key: str | None = None
    document_id: int | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def endpoint_template(path: str) -> str:
    """`/api/purchase-orders/PO-1/receipts` → `/api/purchase-orders/{id}/receipts`."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "api":
        parts[3] = "{id}"
    return "/".join(parts)


Model = TypeVar("Model", bound=BaseModel)

PING_CONNECT_TIMEOUT = 1.0
PING_READ_TIMEOUT = 2.0


class ErpClient:
    """HTTP client for the ERP's integration API; satisfies ``ErpGateway``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ErpClient:
        """Build from a Flask config (ERP_URL, ERP_API_KEY, ERP_*_TIMEOUT)."""
        return cls(
            base_url=config["ERP_URL"],
            api_key=config["ERP_API_KEY"],
            connect_timeout=float(config["ERP_CONNECT_TIMEOUT"]),
            read_timeout=float(config["ERP_READ_TIMEOUT"]),
        )

    def close(self) -> None:
        self.session.close()

    # -- the gateway ------------------------------------------------------------------------

    def ping(self) -> bool:
        timeout = (
            min(self.timeout[0], PING_CONNECT_TIMEOUT),
            min(self.timeout[1], PING_READ_TIMEOUT),
        )
        try:
            self._call("GET", "/api/ping", timeout=timeout)
        except ErpError:
            return False
        return True

    def list_vendors(
        self, tax_id: str | None = None, *, correlation_id: str | None = None
    ) -> list[Vendor]:
        params = {"tax_id": tax_id} if tax_id else None
        return self._list("/api/vendors", Vendor, params=params, correlation_id=correlation_id)

    def get_vendor(self, number: str, *, correlation_id: str | None = None) -> Vendor:
        return self._one(f"/api/vendors/{_q(number)}", Vendor, correlation_id=correlation_id)

    def find_or_create_vendor(
        self, payload: Payload, *, correlation_id: str | None = None
    ) -> tuple[Vendor, bool]:
        response = self._call(
            "POST", "/api/vendors", payload=payload, correlation_id=correlation_id
        )
        return _parse(Vendor, _json(response)), response.status_code == 201

    def update_vendor(
        self,
        number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Vendor:
        response = self._call(
            "PATCH",
            f"/api/vendors/{_q(number)}",
            payload=payload,
            headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
            correlation_id=correlation_id,
        )
        return _parse(Vendor, _json(response))

    def list_facilities(self, *, correlation_id: str | None = None) -> list[Facility]:
        return self._list("/api/facilities", Facility, correlation_id=correlation_id)

    def list_cost_centres(self, *, correlation_id: str | None = None) -> list[CostCentre]:
        return self._list("/api/cost-centres", CostCentre, correlation_id=correlation_id)

    def list_items(self, *, correlation_id: str | None = None) -> list[Item]:
        return self._list("/api/items", Item, correlation_id=correlation_id)

    def list_purchase_orders(
        self,
        vendor_number: str | None = None,
        status: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> list[PurchaseOrder]:
        wanted = {"vendor_number": vendor_number, "status": status}
        params = {name: value for name, value in wanted.items() if value}
        return self._list(
            "/api/purchase-orders", PurchaseOrder, params=params, correlation_id=correlation_id
        )

    def get_purchase_order(
        self, number: str, *, correlation_id: str | None = None
    ) -> PurchaseOrder:
        return self._one(
            f"/api/purchase-orders/{_q(number)}", PurchaseOrder, correlation_id=correlation_id
        )

    def list_receipts(self, po_number: str, *, correlation_id: str | None = None) -> list[Receipt]:
        return self._list(
            f"/api/purchase-orders/{_q(po_number)}/receipts", Receipt, correlation_id=correlation_id
        )

    def create_ap_invoice(
        self, payload: Payload, idempotency_key: str, *, correlation_id: str | None = None
    ) -> ApInvoice:
        response = self._call(
            "POST",
            "/api/ap-invoices",
            payload=payload,
            headers={"Idempotency-Key": idempotency_key},
            correlation_id=correlation_id,
        )
        return _parse(ApInvoice, _json(response))

    def get_ap_invoice(self, ap_invoice_id: int, *, correlation_id: str | None = None) -> ApInvoice:
        return self._one(
            f"/api/ap-invoices/{int(ap_invoice_id)}", ApInvoice, correlation_id=correlation_id
        )

    def find_ap_invoice(
        self, vendor_number: str, invoice_number: str, *, correlation_id: str | None = None
    ) -> ApInvoice | None:
        params = {"vendor_number": vendor_number, "invoice_number": invoice_number}
        found = self._list(
            "/api/ap-invoices", ApInvoice, params=params, correlation_id=correlation_id
        )
        return found[0] if found else None

    def get_payment(self, ap_invoice_id: int, *, correlation_id: str | None = None) -> Payment:
        return self._one(
            f"/api/ap-invoices/{int(ap_invoice_id)}/payment", Payment, correlation_id=correlation_id
        )

    def acknowledge_po(
        self,
        po_number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Acknowledgment:
        response = self._call(
            "POST",
            f"/api/purchase-orders/{_q(po_number)}/acknowledgments",
            payload=payload,
            headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
            correlation_id=correlation_id,
        )
        return _parse(Acknowledgment, _json(response))

    def list_acknowledgments(
        self, po_number: str, *, correlation_id: str | None = None
    ) -> list[Acknowledgment]:
        return self._list(
            f"/api/purchase-orders/{_q(po_number)}/acknowledgments",
            Acknowledgment,
            correlation_id=correlation_id,
        )

    def list_events(
        self, after: int = 0, limit: int = 100, *, correlation_id: str | None = None
    ) -> list[ErpEvent]:
        params = {"after": str(int(after)), "limit": str(int(limit))}
        return self._list("/api/events", ErpEvent, params=params, correlation_id=correlation_id)

    # -- plumbing ---------------------------------------------------------------------------

    def _one(self, path: str, model: type[Model], *, correlation_id: str | None) -> Model:
        return _parse(model, _json(self._call("GET", path, correlation_id=correlation_id)))

    def _list(
        self,
        path: str,
        model: type[Model],
        *,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None,
    ) -> list[Model]:
        response = self._call("GET", path, params=params, correlation_id=correlation_id)
        return [_parse(model, row) for row in _json(response)["items"]]

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        payload: Payload | None = None,
        headers: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """One HTTP exchange; returns a 2xx response or raises an ErpError."""
        all_headers = dict(headers or {})
        if correlation_id:
            all_headers["X-Correlation-ID"] = correlation_id
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        exchange = Exchange(method, path, time.perf_counter(), correlation_id, all_headers)
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                data=encode(payload) if payload is not None else None,
                headers=all_headers,
                timeout=timeout or self.timeout,
            )
        except requests.RequestException as exc:
            failure = _transport_error(exc)
            _log_call(exchange, None, error=type(exc).__name__, detail=failure.message)
            raise failure from exc
        problem = _http_error(response) if response.status_code >= 300 else None
        _log_call(exchange, response.status_code, detail=problem.message if problem else None)
        if problem is not None:
            raise problem
        return response


@dataclass(frozen=True)
class Exchange:
    """What `_call` sent, for the log line and the signal."""

    method: str
    path: str
    started: float
    correlation_id: str | None
    headers: Mapping[str, str]


def _q(segment: str) -> str:
    """A URL path segment, escaped so an odd number cannot reach another endpoint."""
    return quote(str(segment), safe="")


def encode(payload: Payload | BaseModel) -> bytes:
    """JSON with Decimal as strings (never floats) and dates in ISO 8601."""
    if isinstance(payload, BaseModel):
        return payload.model_dump_json().encode()
    return json.dumps(payload, default=_json_default, sort_keys=True).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot send {type(value).__name__} to the ERP")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ErpError("The ERP answered with invalid JSON.", status=response.status_code) from exc


def _parse(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ErpError(f"The ERP answered an unexpected {model.__name__}: {exc}") from exc


def _transport_error(exc: requests.RequestException) -> ErpUnavailable:
    # ConnectTimeout is also a ConnectionError, so the timeouts are told apart first.
    if isinstance(exc, requests.ConnectTimeout):
        return ErpUnavailable("Timed out connecting to the ERP.", reason="connect_timeout")
    if isinstance(exc, requests.ReadTimeout):
        return ErpUnavailable("The ERP did not answer in time.", reason="read_timeout")
    if isinstance(exc, requests.ConnectionError) and _refused(exc):
        return ErpUnavailable("The ERP refused the connection.", reason="connection_refused")
    return ErpUnavailable(f"Cannot reach the ERP: {exc}", reason="connection_error")


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        if any(isinstance(arg, BaseException) and _refused(arg) for arg in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _http_error(response: requests.Response) -> ErpError:
    status = response.status_code
    code, message, details = _error_fields(response)
    if status in (401, 403):
        return ErpAuthError(f"The ERP refused our credentials: {message}", status=status)
    if status == 404:
        return ErpNotFound(message, status=status)
    if status == 429 or status >= 500:
        return ErpUnavailable(
            f"The ERP answered {status}: {message}",
            reason="unavailable" if status in (429, 503) else "server_error",
            status=status,
            retry_after=_retry_after(response),
        )
    return ErpRejected(code, message, status=status, details=details)


def _error_fields(response: requests.Response) -> tuple[str, str, object]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        return f"HTTP_{response.status_code}", response.reason or "", None


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds, whether sent as a number or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _log_call(
    exchange: Exchange,
    status: int | None,
    *,
    error: str | None = None,
    detail: str | None = None,
) -> None:
    seconds = time.perf_counter() - exchange.started
    correlation_id = exchange.correlation_id
    log.info(
        "erp.call",
        method=exchange.method,
        path=exchange.path,
        status=status,
        error=error,
        duration_ms=round(seconds * 1000, 1),
        # None would hide the id the job or request bound to every line of its logs.
        **({"correlation_id": correlation_id} if correlation_id else {}),
    )
    erp_called.send(
        ErpCall(
            exchange.method,
            endpoint_template(exchange.path),
            status,
            error,
            seconds,
            path=exchange.path,
            detail=detail,
            correlation_id=correlation_id,
            idempotency_key=exchange.headers.get("Idempotency-Key"),
            document_id=document_at_work(),
        )
    )
