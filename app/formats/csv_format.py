"""CSV invoices for suppliers without an EDI or e-invoicing channel: one row per line item,
rows grouped into invoices by invoice number. The columns are documented in CSV.md."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from app.canonical.field_errors import FieldError
from app.formats.base import Kind, RawDocument, add, bank_account_id, negate, prune, scheme_id
from app.formats.errors import EnvelopeError

VERSION = "csv-1.1.0"
MAX_CSV_BYTES = 20 * 1024 * 1024

# fmt: off
# Columns that describe the invoice: repeated on each of its rows and required to agree.
HEADER_COLUMNS = (
    "document_type", "invoice_number", "issue_date", "due_date", "tax_point_date", "currency",
    "supplier_name", "supplier_tax_id", "supplier_tax_scheme", "supplier_erp_vendor_number",
    "supplier_portal_id", "buyer_name", "ship_to_name", "ship_to_id", "po_number", "cost_centre",
    "payment_terms", "net_days", "iban", "bic", "account_number", "routing_number",
    "line_total", "allowance_total", "charge_total", "tax_total", "prepaid_amount",
    "payable_amount", "notes",
)
# Columns that describe one line item.
LINE_COLUMNS = (
    "line_id", "description", "supplier_item_id", "buyer_item_id", "quantity", "unit_code",
    "unit_price", "line_amount", "tax_category", "tax_rate", "line_tax_amount",
    "line_po_number", "po_line",
)
REQUIRED_COLUMNS = (
    "invoice_number", "issue_date", "currency", "supplier_name", "line_id", "description",
    "quantity", "unit_price", "line_amount", "payable_amount",
)
# fmt: on
KNOWN_COLUMNS = frozenset(HEADER_COLUMNS + LINE_COLUMNS)


def _text(payload: bytes) -> str:
    if len(payload) > MAX_CSV_BYTES:
        raise EnvelopeError(f"CSV payload larger than {MAX_CSV_BYTES} bytes", code="too_large")
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EnvelopeError("CSV must be UTF-8", f"byte {error.start}") from None


def _dialect(first_line: str) -> str:
    """Spreadsheets in comma-decimal locales save with semicolons; accept both."""
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise EnvelopeError("empty CSV payload", "line 1", "empty") from None
    columns = [column.strip().lower() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    unknown = [column for column in columns if column not in KNOWN_COLUMNS]
    problems = [
        f"lacks required columns: {', '.join(missing)}" if missing else "",
        f"has unknown columns: {', '.join(unknown)}" if unknown else "",
    ]
    if missing or unknown:
        # Both lists at once, so a misspelt column is fixed in one round trip.
        raise EnvelopeError("CSV header " + "; ".join(p for p in problems if p), "line 1")
    return columns


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for every non-blank data row; malformed rows are envelope errors."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text.split("\n", 1)[0]))
    columns = _header(reader)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise EnvelopeError(
                    f"row has {len(row)} fields but the header has {len(columns)}",
                    f"line {reader.line_num}",
                )
            yield reader.line_num, dict(zip(columns, row, strict=True))
    except csv.Error as error:
        raise EnvelopeError(f"unreadable CSV: {error}", f"line {reader.line_num}") from None


def _group(rows: Iterator[tuple[int, dict[str, str]]]) -> list[list[tuple[int, dict[str, str]]]]:
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, row in rows:
        # A row without an invoice number stands alone, so it is rejected on its own.
        key = row.get("invoice_number", "").strip() or f"\0row {number}"
        groups.setdefault(key, []).append((number, row))
    return list(groups.values())


def _disagreements(rows: list[tuple[int, dict[str, str]]]) -> list[FieldError]:
    """Invoice-level columns must say the same on every row of the invoice."""
    problems = []
    for column in HEADER_COLUMNS:
        values = {row.get(column, "").strip() for _, row in rows}
        if len(values) > 1:
            lines = ", ".join(str(number) for number, _ in rows)
            problems.append(
                FieldError(
                    column,
                    f"rows {lines} disagree on {column}: {sorted(values)!r}",
                    "inconsistent_rows",
                )
            )
    return problems


def _line(row: dict[str, str]) -> dict[str, Any]:
    return {
        "line_id": row.get("line_id"),
        "description": row.get("description"),
        "supplier_item_id": row.get("supplier_item_id"),
        "buyer_item_id": row.get("buyer_item_id"),
        "quantity": row.get("quantity"),
        "unit_code": row.get("unit_code"),
        "unit_price": row.get("unit_price"),
        "line_extension_amount": row.get("line_amount"),
        "tax_category": row.get("tax_category"),
        "tax_rate": row.get("tax_rate"),
        "tax_amount": row.get("line_tax_amount"),
        "po_number": row.get("line_po_number"),
        "po_line": row.get("po_line"),
    }


def _totals(head: dict[str, str], lines: list[dict[str, Any]]) -> dict[str, Any]:
    # An empty line_total means "the sum of my lines"; a stated one is checked against it.
    line_total = head.get("line_total") or add(*(line["line_extension_amount"] for line in lines))
    allowances, charges = head.get("allowance_total"), head.get("charge_total")
    exclusive = add(line_total, charges, negate(allowances))
    tax = head.get("tax_total")
    return {
        "line_total": line_total,
        "allowance_total": allowances,
        "charge_total": charges,
        "tax_exclusive": exclusive,
        "tax_total": tax,
        "tax_inclusive": add(exclusive, tax) if exclusive is not None else None,
        "prepaid": head.get("prepaid_amount"),
        "payable": head.get("payable_amount"),
    }


def _supplier(head: dict[str, str]) -> dict[str, Any]:
    return {
        "name": head.get("supplier_name"),
        "tax_ids": [
            scheme_id(head.get("supplier_tax_scheme") or "VAT", head.get("supplier_tax_id"))
        ],
        "erp_vendor_number": head.get("supplier_erp_vendor_number"),
        "portal_id": head.get("supplier_portal_id"),
    }


def _invoice(head: dict[str, str], lines: list[dict[str, Any]]) -> dict[str, Any]:
    bank = {"bic": head.get("bic"), "routing_number": head.get("routing_number")}
    account = bank_account_id(head.get("iban") or head.get("account_number"))
    return {
        "document_type": head.get("document_type") or "invoice",
        "invoice_number": head.get("invoice_number"),
        "issue_date": head.get("issue_date"),
        "due_date": head.get("due_date"),
        "tax_point_date": head.get("tax_point_date"),
        "currency": head.get("currency"),
        "supplier": _supplier(head),
        "buyer": {"name": head.get("buyer_name")},
        "ship_to": {
            "name": head.get("ship_to_name"),
            "identifiers": [scheme_id("facility", head.get("ship_to_id"))],
        },
        "remit_to": {**bank, **account},
        "payment_terms": {"text": head.get("payment_terms"), "net_days": head.get("net_days")},
        "po_number": head.get("po_number"),
        "accounting_cost": head.get("cost_centre"),
        "lines": lines,
        "totals": _totals(head, lines),
        "notes": [head.get("notes")],
    }


def _document(rows: list[tuple[int, dict[str, str]]]) -> RawDocument:
    head = rows[0][1]
    lines = [_line(row) for _, row in rows]
    numbers = ", ".join(str(number) for number, _ in rows)
    span = f"lines {numbers}" if len(rows) > 1 else f"line {numbers}"
    number = head.get("invoice_number", "").strip() or "(no number)"
    return RawDocument(
        prune(_invoice(head, prune(lines))),
        f"invoice {number} ({span})",
        problems=tuple(_disagreements(rows)),
    )


def parse(payload: bytes, kind: Kind) -> list[RawDocument]:
    del kind  # CSV carries invoices only; the registry refuses other kinds before this
    return [_document(rows) for rows in _group(_rows(_text(payload)))]
