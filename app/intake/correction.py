"""A corrected invoice or a credit note for a rejected invoice, built from the rejected one's
canonical content and the supplier's edits. Pure: the result is canonical JSON that goes through
intake and normalization like any other, and names the invoice it corrects in
`billing_references` (UBL BillingReference, the "preceding invoice" of EN 16931)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.intake.flip import amount, totals

INVOICE, CREDIT_NOTE = "invoice", "credit_note"
# Server-set or per-document fields never copied from the rejected invoice. The remit-to
# account is not copied either: payment goes to the verified bank details on record, and a
# remit-to that differed from them may be why the invoice was rejected.
NOT_COPIED = (
    "source_format",
    "parser_version",
    "billing_references",
    "notes",
    "due_date",
    "remit_to",
)


@dataclass(frozen=True)
class CorrectedLine:
    line_id: str
    quantity: Decimal
    unit_price: Decimal


class CorrectionError(ValueError):
    pass


def correction_of(
    rejected: dict[str, Any],
    lines: list[CorrectedLine],
    *,
    document_type: str,
    invoice_number: str,
    issue_date: dt.date,
    tax_total: Decimal = Decimal(0),
    note: str | None = None,
) -> dict[str, Any]:
    """The canonical invoice or credit note (v1) correcting `rejected` (canonical mapping)."""
    if document_type not in (INVOICE, CREDIT_NOTE):
        raise CorrectionError(f"unknown document type {document_type!r}")
    by_id = {str(line["line_id"]): line for line in rejected.get("lines", [])}
    new_lines = [_line(by_id, pick) for pick in lines if pick.quantity != 0]
    if not new_lines:
        raise CorrectionError("keep at least one line with a quantity above zero")
    line_total = sum((Decimal(line["line_extension_amount"]) for line in new_lines), Decimal(0))
    document = {key: value for key, value in rejected.items() if key not in NOT_COPIED}
    document.update(
        {
            "document_type": document_type,
            "invoice_number": invoice_number,
            "issue_date": issue_date.isoformat(),
            "billing_references": [rejected["invoice_number"]],
            "lines": new_lines,
            # Allowances, charges and tax subtotals were the rejected invoice's; the corrected
            # document states its own tax total only.
            "allowances_charges": [],
            "tax_subtotals": [],
            "totals": totals(line_total, tax_total),
        }
    )
    if note:
        document["notes"] = [note]
    return document


def _line(by_id: dict[str, dict[str, Any]], pick: CorrectedLine) -> dict[str, Any]:
    if pick.line_id not in by_id:
        raise CorrectionError(f"the rejected invoice has no line {pick.line_id}")
    if pick.quantity < 0 or pick.unit_price < 0:
        raise CorrectionError(f"line {pick.line_id}: quantity and price cannot be negative")
    line = {
        key: value
        for key, value in by_id[pick.line_id].items()
        # Line tax and allowances were for the old figures.
        if key not in ("tax_amount", "allowances_charges")
    }
    line.update(
        {
            "quantity": str(pick.quantity),
            "unit_price": str(pick.unit_price),
            "line_extension_amount": str(amount(pick.quantity, pick.unit_price)),
        }
    )
    line.pop("price_base_quantity", None)
    return line
