"""How the mock ERP's records look on the wire: JSON with money and quantities as strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.erp.mock import models

CENT = Decimal("0.01")
TEN_THOUSANDTH = Decimal("0.0001")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def unit_price(value: Decimal) -> str:
    """Two decimals, or up to four when the price really has them (pharmacy unit prices)."""
    if value == value.quantize(CENT):
        return money(value)
    return format(value.quantize(TEN_THOUSANDTH).normalize(), "f")


def quantity(value: Decimal) -> str:
    return format(value.normalize(), "f")


def optional(render, value):
    return None if value is None else render(value)


def facility(f: models.Facility) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "address": {
            "street": f.street,
            "city": f.city,
            "region": f.region,
            "postal_code": f.postal_code,
            "country": f.country,
        },
    }


def cost_centre(c: models.CostCentre) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "facility_code": c.facility.code}


def item(i: models.Item) -> dict[str, Any]:
    return {
        "number": i.number,
        "description": i.description,
        "category": i.category,
        "uom": i.uom,
        "list_price": unit_price(i.list_price),
        "currency": i.currency,
    }


def vendor(v: models.Vendor) -> dict[str, Any]:
    remit = None
    if v.remit_account:
        remit = {
            "bank_name": v.remit_bank_name,
            "scheme": v.remit_scheme,
            "bank_code": v.remit_bank_code,
            "account": v.remit_account,
        }
    return {
        "number": v.number,
        "name": v.name,
        "tax_id": v.tax_id,
        "country": v.country,
        "currency": v.currency,
        "status": v.status.value,
        "email": v.email,
        "address": {
            "street": v.street,
            "city": v.city,
            "region": v.region,
            "postal_code": v.postal_code,
            "country": v.country,
        },
        "remit_to": remit,
    }


def po_line(line: models.PoLine) -> dict[str, Any]:
    received = sum((r.quantity for r in line.receipts), Decimal(0))
    return {
        "line_number": line.line_number,
        "item_number": line.item.number,
        "description": line.description,
        "uom": line.uom,
        "quantity": quantity(line.quantity),
        "unit_price": unit_price(line.unit_price),
        "amount": money(line.quantity * line.unit_price),
        "quantity_received": quantity(received),
        "need_by_date": line.need_by_date.isoformat(),
    }


def purchase_order(po: models.PurchaseOrder) -> dict[str, Any]:
    total = sum((line.quantity * line.unit_price for line in po.lines), Decimal(0))
    return {
        "number": po.number,
        "vendor_number": po.vendor.number,
        "facility_code": po.facility.code,
        "cost_centre": po.cost_centre.code,
        "status": po.status.value,
        "currency": po.currency,
        "order_date": po.order_date.isoformat(),
        "buyer_email": po.buyer_email,
        "total_amount": money(total),
        "lines": [po_line(line) for line in po.lines],
    }


def receipt(r: models.Receipt) -> dict[str, Any]:
    return {
        "receipt_number": r.number,
        "po_number": r.po_line.purchase_order.number,
        "line_number": r.po_line.line_number,
        "item_number": r.po_line.item.number,
        "quantity": quantity(r.quantity),
        "received_on": r.received_on.isoformat(),
    }


def ap_invoice(inv: models.ApInvoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "vendor_number": inv.vendor.number,
        "invoice_number": inv.invoice_number,
        "invoice_date": inv.invoice_date.isoformat(),
        "po_number": inv.purchase_order.number if inv.purchase_order else None,
        "cost_centre": inv.cost_centre.code if inv.cost_centre else None,
        "currency": inv.currency,
        "tax_amount": money(inv.tax_amount),
        "total_amount": money(inv.total_amount),
        "status": inv.status.value,
        "lines": [
            {
                "line_number": line.line_number,
                "po_line_number": line.po_line_number,
                "description": line.description,
                "quantity": quantity(line.quantity),
                "unit_price": unit_price(line.unit_price),
                "amount": money(line.amount),
            }
            for line in inv.lines
        ],
    }


def payment(inv: models.ApInvoice) -> dict[str, Any]:
    return {
        "ap_invoice_id": inv.id,
        "status": "PAID" if inv.status == models.ApInvoiceStatus.PAID else "UNPAID",
        "amount": money(inv.total_amount),
        "currency": inv.currency,
        "paid_on": optional(lambda d: d.isoformat(), inv.paid_on),
        "reference": inv.payment_reference,
    }


def acknowledgment(ack: models.Acknowledgment) -> dict[str, Any]:
    return {
        "id": ack.id,
        "po_number": ack.purchase_order.number,
        "status": ack.status,
        "reference": ack.reference,
        "note": ack.note,
        "lines": ack.lines,
        "received_at": ack.received_at.isoformat(),
    }


def event(e: models.Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "type": e.type,
        "po_number": e.po_number,
        "data": e.data,
        "created_at": e.created_at.isoformat(),
    }


def vendor_change(c: models.VendorChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "vendor_number": c.vendor.number,
        "reference": c.reference,
        "before": c.before,
        "after": c.after,
        "changed_at": c.changed_at.isoformat(),
    }
