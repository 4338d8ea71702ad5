"""How many documents per second each format parser normalizes, parser alone (no database).

Run: `python bench/normalize_rate.py [seconds-per-case]`. Generated 20-line documents per
format, plus the public sample corpus read in place when it is there (PORTAL_SAMPLES_DIR, by
default shared/samples beside the clone's folder); without it, it says so in one line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.formats import parse  # noqa: E402 - the repo root must be importable first

SAMPLES = Path(os.environ.get("PORTAL_SAMPLES_DIR") or ROOT.parent / "shared" / "samples")
LINES = 20


def _ubl(lines: int) -> bytes:
    body = "".join(
        f"<cac:InvoiceLine><cbc:ID>{i}</cbc:ID>"
        "<cbc:InvoicedQuantity unitCode='EA'>2</cbc:InvoicedQuantity>"
        f"<cbc:LineExtensionAmount currencyID='EUR'>10.00</cbc:LineExtensionAmount>"
        f"<cac:Item><cbc:Name>Item {i}</cbc:Name></cac:Item>"
        "<cac:Price><cbc:PriceAmount currencyID='EUR'>5.00</cbc:PriceAmount></cac:Price>"
        "</cac:InvoiceLine>"
        for i in range(1, lines + 1)
    )
    total = f"{10 * lines:.2f}"
    return (
        "<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'"
        " xmlns:cac='urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2'"
        " xmlns:cbc='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>"
        "<cbc:ID>G-1</cbc:ID><cbc:IssueDate>2024-01-01</cbc:IssueDate>"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        "<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>Acme</cbc:Name>"
        "</cac:PartyName></cac:Party></cac:AccountingSupplierParty>"
        "<cac:LegalMonetaryTotal>"
        f"<cbc:LineExtensionAmount currencyID='EUR'>{total}</cbc:LineExtensionAmount>"
        f"<cbc:PayableAmount currencyID='EUR'>{total}</cbc:PayableAmount></cac:LegalMonetaryTotal>"
        f"{body}</Invoice>"
    ).encode()


def _x12(lines: int) -> bytes:
    isa = (
        "ISA*00*          *00*          *ZZ*ACME           *ZZ*HOSPITAL       "
        "*240101*1200*U*00401*000000001*0*P*>~"
    )
    body = ["ST*810*0001", "BIG*20240101*G-1**PO-1", "N1*SU*ACME"]
    body += [f"IT1*{i}*2*EA*5.00**VN*SKU{i}" for i in range(1, lines + 1)]
    body += [f"TDS*{1000 * lines}", "CTT*1"]
    body.append(f"SE*{len(body) + 1}*0001")
    return (
        isa
        + "~".join(
            ["GS*IN*ACME*HOSPITAL*20240101*1200*1*X*004010", *body, "GE*1*1", "IEA*1*000000001"]
        )
        + "~"
    ).encode()


def _csv(lines: int) -> bytes:
    header = (
        "invoice_number,issue_date,currency,supplier_name,line_id,description,quantity,"
        "unit_price,line_amount,payable_amount"
    )
    rows = [
        f"G-1,2024-01-01,USD,Acme,{i},Item {i},2,5.00,10.00,{10 * lines:.2f}"
        for i in range(1, lines + 1)
    ]
    return "\n".join([header, *rows]).encode()


def _json(lines: int) -> bytes:
    items = ",".join(
        f'{{"line_id":"{i}","quantity":"2","unit_price":"5.00","line_extension_amount":"10.00"}}'
        for i in range(1, lines + 1)
    )
    return (
        f'{{"invoice_number":"G-1","issue_date":"2024-01-01","currency":"USD","supplier":{{"name":"Acme"}},'
        f'"lines":[{items}],"totals":{{"line_total":"{10 * lines}","payable":"{10 * lines}"}}}}'
    ).encode()


def _cases() -> list[tuple[str, bytes, str | None, str]]:
    cases = [
        (f"ubl generated {LINES} lines", _ubl(LINES), "application/xml", "invoice"),
        (f"x12 generated {LINES} lines", _x12(LINES), "application/edi-x12", "invoice"),
        (f"csv generated {LINES} lines", _csv(LINES), "text/csv", "invoice"),
        (f"json generated {LINES} lines", _json(LINES), "application/json", "invoice"),
    ]
    samples = [
        ("ubl/base-example.xml", "invoice"),
        ("ubl/ubl-tc434-example1.xml", "invoice"),
        ("peppol-order-response/UC1_Order_response.xml", "acknowledgment"),
        ("cxml/invoice_taxes_at_line.xml", "invoice"),
        ("x12/Example3_MultiInvoice.txt", "invoice"),
        ("x12/855SSimmons.txt", "acknowledgment"),
    ]
    if not SAMPLES.is_dir():
        print(f"public sample corpus not found at {SAMPLES} (set PORTAL_SAMPLES_DIR); "
              "measuring the generated documents only")  # fmt: skip
        return cases
    for relative, kind in samples:
        path = SAMPLES / relative
        if path.exists():
            cases.append((f"sample {relative}", path.read_bytes(), None, kind))
    return cases


def _rate(call: Callable[[], int], seconds: float) -> tuple[float, int]:
    documents, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        documents += call()
    return documents / elapsed, documents


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    cases = _cases()
    print(f"{'case':<58} {'format':<6} {'docs/s':>10}")
    for name, payload, content_type, kind in cases:
        result = parse(payload, content_type, kind)  # type: ignore[arg-type]
        assert all(doc.ok for doc in result.documents), name

        def once(
            payload: bytes = payload, content_type: str | None = content_type, kind: str = kind
        ) -> int:
            return len(parse(payload, content_type, kind).documents)  # type: ignore[arg-type]

        rate, _ = _rate(once, seconds)
        print(f"{name:<58} {result.format:<6} {rate:>10.0f}")


if __name__ == "__main__":
    main()
