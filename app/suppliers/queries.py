"""What the supplier's purchase-order page reads from the portal: the invoices it sent against
a PO. What is left to invoice per PO line is matching's (`app.matching.left`)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentKind


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
