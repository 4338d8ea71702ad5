"""The mock ERP's business checks as pure functions, so the fake ERP rejects exactly alike."""

from __future__ import annotations

from dataclasses import dataclass

from app.erp.interface import OPEN_PO_STATUSES, PoStatus
from app.erp.mock.schemas import AcknowledgmentCreate, ApInvoiceCreate


class BusinessError(Exception):
    """A request the ERP refuses for a business reason (answered 422 with this code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VendorFacts:
    number: str
    active: bool
    currency: str


@dataclass(frozen=True)
class PoFacts:
    number: str
    vendor_number: str
    status: PoStatus
    currency: str
    line_numbers: frozenset[int]


def check_ap_invoice(
    req: ApInvoiceCreate,
    vendor: VendorFacts | None,
    po: PoFacts | None,
    *,
    duplicate: bool,
    cost_centre_known: bool,
) -> None:
    """Raise the first BusinessError an ERP's AP module would answer for this invoice."""
    if vendor is None:
        raise BusinessError("VENDOR_NOT_FOUND", f"No vendor {req.vendor_number}.")
    if not vendor.active:
        raise BusinessError("VENDOR_INACTIVE", f"Vendor {vendor.number} is inactive.")
    if duplicate:
        raise BusinessError(
            "DUPLICATE_INVOICE_NUMBER",
            f"Vendor {vendor.number} already has an invoice {req.invoice_number}.",
        )
    if req.po_number:
        _check_against_po(req, vendor, po)
    else:
        _check_non_po(req, vendor, cost_centre_known=cost_centre_known)
    _check_total(req)


def _check_against_po(req: ApInvoiceCreate, vendor: VendorFacts, po: PoFacts | None) -> None:
    if po is None:
        raise BusinessError("PO_NOT_FOUND", f"No purchase order {req.po_number}.")
    if po.vendor_number != vendor.number:
        raise BusinessError(
            "PO_VENDOR_MISMATCH", f"Purchase order {po.number} belongs to another vendor."
        )
    if po.status not in OPEN_PO_STATUSES:
        raise BusinessError("PO_CLOSED", f"Purchase order {po.number} is closed.")
    if req.currency != po.currency:
        raise BusinessError(
            "CURRENCY_MISMATCH", f"Invoice is in {req.currency}, the PO in {po.currency}."
        )
    referenced = {line.po_line_number for line in req.lines if line.po_line_number is not None}
    unknown = sorted(referenced - po.line_numbers)
    if unknown:
        raise BusinessError("PO_LINE_NOT_FOUND", f"PO {po.number} has no line(s) {unknown}.")


def _check_non_po(req: ApInvoiceCreate, vendor: VendorFacts, *, cost_centre_known: bool) -> None:
    if req.currency != vendor.currency:
        raise BusinessError(
            "CURRENCY_MISMATCH", f"Invoice is in {req.currency}, the vendor in {vendor.currency}."
        )
    if not req.cost_centre:
        raise BusinessError("COST_CENTRE_REQUIRED", "An invoice without a PO needs a cost centre.")
    if not cost_centre_known:
        raise BusinessError("COST_CENTRE_NOT_FOUND", f"No cost centre {req.cost_centre}.")


def _check_total(req: ApInvoiceCreate) -> None:
    expected = sum((line.amount for line in req.lines), req.tax_amount)
    if expected != req.total_amount:
        raise BusinessError(
            "TOTAL_MISMATCH",
            f"Lines plus tax come to {expected}, the invoice total is {req.total_amount}.",
        )


def check_acknowledgment(req: AcknowledgmentCreate, po: PoFacts) -> None:
    """Raise if the ERP would refuse this acknowledgment of an existing PO."""
    if po.status not in OPEN_PO_STATUSES:
        raise BusinessError("PO_CLOSED", f"Purchase order {po.number} is closed.")
    unknown = sorted({line.line_number for line in req.lines} - po.line_numbers)
    if unknown:
        raise BusinessError("PO_LINE_NOT_FOUND", f"PO {po.number} has no line(s) {unknown}.")
