"""An in-memory ERP for fast tests: satisfies ErpGateway, records every call, fails on request.

It holds the mock ERP's seed (same vendors, POs and receipts) and applies the mock ERP's own
business rules, so a test written against the fake means the same against the real mock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app.erp.client import encode
from app.erp.errors import ErpError, ErpNotFound, ErpRejected
from app.erp.interface import (
    Acknowledgment,
    AcknowledgmentLine,
    Address,
    ApInvoice,
    ApInvoiceLine,
    CostCentre,
    ErpEvent,
    Facility,
    Item,
    Payload,
    Payment,
    PoStatus,
    PurchaseOrder,
    Receipt,
    RemitTo,
    Vendor,
)
from app.erp.mock import catalog, rules, seed
from app.erp.mock.rules import BusinessError
from app.erp.mock.schemas import (
    AcknowledgmentCreate,
    AddReceipt,
    ApInvoiceCreate,
    VendorCreate,
    VendorUpdate,
)

ANY_METHOD = "*"


@dataclass(frozen=True)
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class RecordingErp:
    """``ErpGateway`` in memory. ``calls`` lists what was asked; ``fail_next`` makes it fail."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.available = True  # what ping() answers
        self._failures: dict[str, list[ErpError]] = defaultdict(list)
        self.vendors: dict[str, Vendor] = {v.number: _vendor(v) for v in catalog.VENDORS}
        pos = seed.build_seed().purchase_orders
        self.purchase_orders: dict[str, PurchaseOrder] = {
            po.number: po.as_purchase_order() for po in pos
        }
        self.receipts: dict[str, list[Receipt]] = {po.number: _receipts(po) for po in pos}
        self.ap_invoices: dict[int, ApInvoice] = {}
        self.payments: dict[int, Payment] = {}
        self.acknowledgments: dict[str, list[Acknowledgment]] = defaultdict(list)
        self.events: list[ErpEvent] = []
        self._answers: dict[tuple[str, str], tuple[str, Any]] = {}
        self._ids = itertools.count(1)

    # -- test controls ----------------------------------------------------------------------

    def fail_next(self, error: ErpError, method: str = ANY_METHOD, times: int = 1) -> None:
        """Raise `error` on the next `times` calls of `method` (or of any method)."""
        self._failures[method].extend([error] * times)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def mark_paid(self, ap_invoice_id: int, reference: str, paid_on: dt.date | None = None) -> None:
        invoice = self.ap_invoices[ap_invoice_id]
        self.ap_invoices[ap_invoice_id] = invoice.model_copy(update={"status": "PAID"})
        self.payments[ap_invoice_id] = self.payments[ap_invoice_id].model_copy(
            update={
                "status": "PAID",
                "paid_on": paid_on or dt.datetime.now(dt.UTC).date(),
                "reference": reference,
            }
        )

    def add_receipt(self, po_number: str, line_number: int, quantity: Decimal) -> Receipt:
        """Receive goods on a PO line, as the mock ERP's admin endpoint does (with its event)."""
        req = AddReceipt(line_number=line_number, quantity=quantity)
        po = self._po_or_404(po_number)
        line = next(line for line in po.lines if line.line_number == req.line_number)
        receipt = Receipt(
            receipt_number=f"GR{900_000 + sum(map(len, self.receipts.values())) + 1}",
            po_number=po_number,
            line_number=line.line_number,
            item_number=line.item_number,
            quantity=req.quantity,
            received_on=dt.datetime.now(dt.UTC).date(),
        )
        self.receipts[po_number].append(receipt)
        lines = tuple(
            pl.model_copy(update={"quantity_received": pl.quantity_received + req.quantity})
            if pl.line_number == line_number
            else pl
            for pl in po.lines
        )
        fully = all(pl.quantity_received >= pl.quantity for pl in lines)
        status = PoStatus.RECEIVED if fully else PoStatus.PARTIALLY_RECEIVED
        self.purchase_orders[po_number] = po.model_copy(update={"lines": lines, "status": status})
        self.events.append(
            ErpEvent(
                id=len(self.events) + 1,
                type="receipt.created",
                po_number=po_number,
                data={
                    "receipt_number": receipt.receipt_number,
                    "line_number": line_number,
                    "quantity": str(req.quantity),
                },
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        return receipt

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append(Call(method, args, kwargs))
        for queue_name in (method, ANY_METHOD):
            if self._failures[queue_name]:
                raise self._failures[queue_name].pop(0)

    # -- the gateway ------------------------------------------------------------------------

    def ping(self) -> bool:
        self.calls.append(Call("ping", ()))
        return self.available

    def list_vendors(
        self, tax_id: str | None = None, *, correlation_id: str | None = None
    ) -> list[Vendor]:
        self._record("list_vendors", tax_id, correlation_id=correlation_id)
        return [v for v in self._sorted_vendors() if tax_id is None or _matches(v, tax_id)]

    def get_vendor(self, number: str, *, correlation_id: str | None = None) -> Vendor:
        self._record("get_vendor", number, correlation_id=correlation_id)
        return _found(self.vendors.get(number), f"No vendor {number}.")

    def find_or_create_vendor(
        self, payload: Payload, *, correlation_id: str | None = None
    ) -> tuple[Vendor, bool]:
        self._record("find_or_create_vendor", payload, correlation_id=correlation_id)
        req = _validated(VendorCreate, payload)
        for vendor in self._sorted_vendors():
            if _matches(vendor, req.tax_id):
                return vendor, False
        vendor = _new_vendor(self._next_vendor_number(), req)
        self.vendors[vendor.number] = vendor
        return vendor, True

    def update_vendor(
        self,
        number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Vendor:
        self._record(
            "update_vendor",
            number,
            payload,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        req = _validated(VendorUpdate, payload)
        vendor = _found(self.vendors.get(number), f"No vendor {number}.")

        def work() -> Vendor:
            remit = RemitTo(**req.remit_to.model_dump())
            self.vendors[number] = vendor.model_copy(update={"remit_to": remit})
            return self.vendors[number]

        if idempotency_key is None:
            return work()
        return self._once(f"vendor:{number}", idempotency_key, payload, work)

    def list_facilities(self, *, correlation_id: str | None = None) -> list[Facility]:
        self._record("list_facilities", correlation_id=correlation_id)
        return sorted((_facility(f) for f in catalog.FACILITIES), key=lambda f: f.code)

    def list_cost_centres(self, *, correlation_id: str | None = None) -> list[CostCentre]:
        self._record("list_cost_centres", correlation_id=correlation_id)
        return [
            CostCentre(code=c.code, name=c.name, facility_code=c.facility_code)
            for c in sorted(catalog.COST_CENTRES, key=lambda c: c.code)
        ]

    def list_items(self, *, correlation_id: str | None = None) -> list[Item]:
        self._record("list_items", correlation_id=correlation_id)
        return [_item(i) for i in sorted(catalog.ITEMS, key=lambda i: i.number)]

    def list_purchase_orders(
        self,
        vendor_number: str | None = None,
        status: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> list[PurchaseOrder]:
        self._record("list_purchase_orders", vendor_number, status, correlation_id=correlation_id)
        return [
            po
            for po in sorted(self.purchase_orders.values(), key=lambda p: p.number)
            if (vendor_number is None or po.vendor_number == vendor_number)
            and (status is None or po.status == status.upper())
        ]

    def get_purchase_order(
        self, number: str, *, correlation_id: str | None = None
    ) -> PurchaseOrder:
        self._record("get_purchase_order", number, correlation_id=correlation_id)
        return self._po_or_404(number)

    def list_receipts(self, po_number: str, *, correlation_id: str | None = None) -> list[Receipt]:
        self._record("list_receipts", po_number, correlation_id=correlation_id)
        self._po_or_404(po_number)
        return list(self.receipts[po_number])

    def create_ap_invoice(
        self, payload: Payload, idempotency_key: str, *, correlation_id: str | None = None
    ) -> ApInvoice:
        self._record("create_ap_invoice", payload, idempotency_key, correlation_id=correlation_id)
        req = _validated(ApInvoiceCreate, payload)
        return self._once("ap-invoice", idempotency_key, payload, lambda: self._book(req))

    def get_ap_invoice(self, ap_invoice_id: int, *, correlation_id: str | None = None) -> ApInvoice:
        self._record("get_ap_invoice", ap_invoice_id, correlation_id=correlation_id)
        return _found(self.ap_invoices.get(ap_invoice_id), f"No AP invoice {ap_invoice_id}.")

    def find_ap_invoice(
        self, vendor_number: str, invoice_number: str, *, correlation_id: str | None = None
    ) -> ApInvoice | None:
        self._record(
            "find_ap_invoice", vendor_number, invoice_number, correlation_id=correlation_id
        )
        found = [
            i
            for i in self.ap_invoices.values()
            if i.vendor_number == vendor_number and i.invoice_number == invoice_number
        ]
        return found[0] if found else None

    def get_payment(self, ap_invoice_id: int, *, correlation_id: str | None = None) -> Payment:
        self._record("get_payment", ap_invoice_id, correlation_id=correlation_id)
        return _found(self.payments.get(ap_invoice_id), f"No AP invoice {ap_invoice_id}.")

    def acknowledge_po(
        self,
        po_number: str,
        payload: Payload,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Acknowledgment:
        self._record(
            "acknowledge_po",
            po_number,
            payload,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
        )
        req = _validated(AcknowledgmentCreate, payload)
        po = self._po_or_404(po_number)
        if idempotency_key is None:
            try:
                return self._store_ack(po, req)
            except BusinessError as exc:
                raise ErpRejected(exc.code, exc.message) from None
        scope = f"ack:{po_number}"
        return self._once(scope, idempotency_key, payload, lambda: self._store_ack(po, req))

    def list_acknowledgments(
        self, po_number: str, *, correlation_id: str | None = None
    ) -> list[Acknowledgment]:
        self._record("list_acknowledgments", po_number, correlation_id=correlation_id)
        self._po_or_404(po_number)
        return list(self.acknowledgments[po_number])

    def list_events(
        self, after: int = 0, limit: int = 100, *, correlation_id: str | None = None
    ) -> list[ErpEvent]:
        self._record("list_events", after, limit, correlation_id=correlation_id)
        return [e for e in self.events if e.id > after][: max(limit, 1)]

    # -- behaviour shared with the mock ERP -------------------------------------------------

    def _once(self, scope: str, key: str, payload: Payload, work):
        """The first outcome for this key, answered again to every repeat (like the mock)."""
        digest = hashlib.sha256(encode(payload)).hexdigest()
        if (scope, key) in self._answers:
            stored_digest, outcome = self._answers[(scope, key)]
            if stored_digest != digest:
                raise ErpRejected(
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was used with a different request.",
                )
        else:
            try:
                outcome = work()
            except BusinessError as exc:
                outcome = exc
            self._answers[(scope, key)] = (digest, outcome)
        if isinstance(outcome, BusinessError):
            raise ErpRejected(outcome.code, outcome.message)
        return outcome

    def _book(self, req: ApInvoiceCreate) -> ApInvoice:
        vendor = self.vendors.get(req.vendor_number)
        po = self.purchase_orders.get(req.po_number) if req.po_number else None
        rules.check_ap_invoice(
            req,
            _vendor_facts(vendor),
            _po_facts(po) if po else None,
            duplicate=any(
                i.vendor_number == req.vendor_number and i.invoice_number == req.invoice_number
                for i in self.ap_invoices.values()
            ),
            cost_centre_known=any(c.code == req.cost_centre for c in catalog.COST_CENTRES),
        )
        invoice = _ap_invoice(next(self._ids), req)
        self.ap_invoices[invoice.id] = invoice
        self.payments[invoice.id] = Payment(
            ap_invoice_id=invoice.id,
            status="UNPAID",
            amount=invoice.total_amount,
            currency=invoice.currency,
            paid_on=None,
            reference=None,
        )
        return invoice

    def _store_ack(self, po: PurchaseOrder, req: AcknowledgmentCreate) -> Acknowledgment:
        rules.check_acknowledgment(req, _po_facts(po))
        ack = Acknowledgment(
            id=next(self._ids),
            po_number=po.number,
            status=req.status,
            reference=req.reference,
            note=req.note,
            lines=tuple(AcknowledgmentLine(**line.model_dump()) for line in req.lines),
            received_at=dt.datetime.now(dt.UTC),
        )
        self.acknowledgments[po.number].append(ack)
        return ack

    def _po_or_404(self, number: str) -> PurchaseOrder:
        return _found(self.purchase_orders.get(number), f"No purchase order {number}.")

    def _sorted_vendors(self) -> list[Vendor]:
        return sorted(self.vendors.values(), key=lambda v: v.number)

    def _next_vendor_number(self) -> str:
        return f"V{max(int(n[1:]) for n in self.vendors) + 1}"


def _found(record, message: str):
    if record is None:
        raise ErpNotFound(message, status=404)
    return record


def _validated(model, payload: Payload):
    try:
        return model.model_validate(dict(payload))
    except ValidationError as exc:
        raise ErpRejected("VALIDATION_ERROR", "The request body is invalid.", status=400) from exc


def _matches(vendor: Vendor, tax_id: str) -> bool:
    return seed.tax_key(vendor.tax_id) == seed.tax_key(tax_id)


def _vendor_facts(vendor: Vendor | None) -> rules.VendorFacts | None:
    if vendor is None:
        return None
    return rules.VendorFacts(vendor.number, vendor.status == "ACTIVE", vendor.currency)


def _po_facts(po: PurchaseOrder) -> rules.PoFacts:
    return rules.PoFacts(
        number=po.number,
        vendor_number=po.vendor_number,
        status=po.status,
        currency=po.currency,
        line_numbers=frozenset(line.line_number for line in po.lines),
    )


def _address(record: Any) -> Address:
    return Address(
        street=record.street,
        city=record.city,
        region=record.region,
        postal_code=record.postal_code,
        country=record.country,
    )


def _facility(f: catalog.FacilitySeed) -> Facility:
    return Facility(code=f.code, name=f.name, address=_address(f))


def _item(i: catalog.ItemSeed) -> Item:
    return Item(
        number=i.number,
        description=i.description,
        category=i.kind,
        uom=i.uom,
        list_price=i.list_price,
        currency="USD",
    )


def _vendor(v: catalog.VendorSeed) -> Vendor:
    return Vendor(
        number=v.number,
        name=v.name,
        tax_id=v.tax_id,
        country=v.country,
        currency=v.currency,
        status="ACTIVE" if v.active else "INACTIVE",
        email=f"ar@{v.email_domain}",
        address=_address(v),
        remit_to=RemitTo(
            bank_name=v.remit_to.bank_name,
            scheme=v.remit_to.scheme,
            bank_code=v.remit_to.bank_code,
            account=v.remit_to.account,
        ),
    )


def _new_vendor(number: str, req: VendorCreate) -> Vendor:
    return Vendor(
        number=number,
        name=req.name,
        tax_id=req.tax_id,
        country=req.country,
        currency=req.currency,
        status="ACTIVE",
        email=req.email,
        address=_address(req),
        remit_to=RemitTo(**req.remit_to.model_dump()) if req.remit_to else None,
    )


def _receipts(po: seed.SeedPo) -> list[Receipt]:
    return [
        Receipt(
            receipt_number=r.number,
            po_number=po.number,
            line_number=line.line_number,
            item_number=line.item_number,
            quantity=r.quantity,
            received_on=r.received_on,
        )
        for line in po.lines
        for r in line.receipts
    ]


def _ap_invoice(invoice_id: int, req: ApInvoiceCreate) -> ApInvoice:
    return ApInvoice(
        id=invoice_id,
        status="OPEN",
        lines=tuple(ApInvoiceLine(**line.model_dump()) for line in req.lines),
        **req.model_dump(exclude={"lines"}),
    )
