"""What the supplier's purchase-order page reads from the portal: the invoices it sent against
a PO, and per PO line what is left to invoice, counted as validation counts it
(`matching.services.billed`: every invoice accepted for payment, credit notes subtracted)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentKind
from app.erp.interface import PurchaseOrder
from app.matching.services import billed

ZERO = Decimal(0)


def invoices_on_po(supplier_id: int, po_number: str) -> list[Document]:
    """Invoices and credit notes of this supplier naming the PO, newest first."""
    return list(
        db.session.scalars(
            select(Document)
            .where(
                Document.supplier_org_id == supplier_id,
                Document.kind == DocumentKind.INVOICE,
                Document.po_number == po_number,
            )
            .order_by(Document.id.desc())
        )
    )


@dataclass(frozen=True)
class LineLeft:
    """One PO line: ordered, received, invoiced so far, and what is left to invoice now (what
    was received and not yet invoiced) and in all (ordered and not yet invoiced)."""

    line_number: int
    description: str
    ordered: Decimal
    received: Decimal
    invoiced: Decimal

    @property
    def left_now(self) -> Decimal:
        return max(self.received - self.invoiced, ZERO)

    @property
    def left_on_order(self) -> Decimal:
        return max(self.ordered - self.invoiced, ZERO)


def left_to_invoice(supplier_id: int, order: PurchaseOrder) -> list[LineLeft]:
    history = billed(supplier_id, order.number)
    return [
        LineLeft(
            line.line_number,
            line.description,
            line.quantity,
            line.quantity_received,
            history.quantity(line.line_number),
        )
        for line in order.lines
    ]
