"""ANSI X12 810 invoices and 855 PO acknowledgments (004010, 004030, 005010) into canonical
documents, one per ST..SE transaction set."""

from __future__ import annotations

from typing import Any

from app.canonical.scalars import to_decimal
from app.formats.base import Kind, RawDocument, add, negate, prune, scheme_id
from app.formats.errors import not_accepted
from app.formats.x12_envelope import Segment, TransactionSet, transaction_sets

VERSION = "x12-1.0.0"

SET_KINDS: dict[str, Kind] = {"810": "invoice", "855": "acknowledgment"}
# X12 has no default currency; absent a CUR segment the trading-partner agreement applies,
# which for this hospital network is US dollars.
DEFAULT_CURRENCY = "USD"
CREDIT_TRANSACTION_TYPES = {"CN", "CR"}  # BIG07: credit invoice, credit memo
SUPPLIER_CODES = ("SU", "VN", "SE", "II", "RI")  # supplier, vendor, selling party, issuer, remit-to
BUYER_CODES = ("BY", "BT")  # buying party, bill-to
SHIP_TO_CODES = ("ST",)
SUPPLIER_ITEM_QUALIFIERS = ("VN", "VC", "VP", "MG")
BUYER_ITEM_QUALIFIERS = ("BP", "IN", "CB")
STANDARD_ITEM_QUALIFIERS = ("UP", "UK", "EN", "UA", "EO")
# SAC02 codes that are taxes rather than allowances or charges: GST, sales, state, generic.
TAX_SAC_CODES = {"D360", "H750", "H770", "H850"}
# BAK02 acknowledgment types.
ACK_TYPES = {
    "AC": "accepted_with_changes",
    "AD": "accepted",
    "AE": "accepted_with_changes",
    "AK": "accepted",
    "AP": "accepted",
    "AT": "accepted",
    "RD": "rejected",
    "RF": "rejected",
    "RJ": "rejected",
    "RO": "changed",
}
# ACK01 line item status codes.
LINE_STATUS = {
    "IA": "accept",
    "AC": "accept",
    "IR": "reject",
    "ID": "reject",
    "R1": "reject",
    "R2": "reject",
    "R3": "reject",
    "R4": "reject",
    "IB": "change",
    "IC": "change",
    "IQ": "change",
    "IP": "change",
    "IS": "change",
    "DR": "change",
    "IH": "change",
}
DELIVERY_DATE_QUALIFIERS = {"002", "017", "067", "068", "069"}


def implied_decimal(value: str | None, places: int = 2) -> str | None:
    """X12 `N2` numbers carry no decimal point (`843202` is 8432.02). A value that already has
    one is read as written; anything unreadable is returned unchanged so validation names it."""
    if value is None or "." in value:
        return value
    number = to_decimal(value)
    return str(number.scaleb(-places)) if number is not None else value


def x12_date(value: str | None) -> str | None:
    """CCYYMMDD -> ISO date; anything else is passed on for validation to reject by path."""
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _product_ids(segment: Segment, first: int) -> dict[str, str]:
    """Qualifier/id pairs from position `first` on (IT106/IT107, PO106/PO107, ...)."""
    pairs: dict[str, str] = {}
    for position in range(first, len(segment.elements) - 1, 2):
        qualifier, value = segment.get(position), segment.get(position + 1)
        if qualifier and value:
            pairs.setdefault(qualifier, value)
    return pairs


def _first(ids: dict[str, str], qualifiers: tuple[str, ...]) -> str | None:
    return next((ids[q] for q in qualifiers if q in ids), None)


def _item_ids(ids: dict[str, str]) -> dict[str, str | None]:
    return {
        "supplier_item_id": _first(ids, SUPPLIER_ITEM_QUALIFIERS),
        "buyer_item_id": _first(ids, BUYER_ITEM_QUALIFIERS),
        "standard_item_id": _first(ids, STANDARD_ITEM_QUALIFIERS),
    }


class PartyLoop:
    """Collects N1 loops (N1 with its N2/N3/N4/PER) keyed by entity code."""

    def __init__(self) -> None:
        self.parties: dict[str, dict[str, Any]] = {}
        self.current: dict[str, Any] | None = None

    def feed(self, segment: Segment) -> bool:
        """Take the segment if it belongs to an N1 loop; False lets the caller handle it."""
        if segment.id == "N1":
            self._start(segment)
            return True
        if self.current is not None and segment.id in {"N2", "N3", "N4", "PER"}:
            self._extend(segment)
            return True
        self.current = None
        return False

    def _start(self, segment: Segment) -> None:
        code = segment.get(1) or ""
        self.current = {
            "name": segment.get(2),
            "identifiers": [scheme_id(f"x12:{segment.get(3)}", segment.get(4))],
            "addresses": [],
        }
        self.parties.setdefault(code, self.current)

    def _extend(self, segment: Segment) -> None:
        party = self.current or {}
        if segment.id == "N2":
            party["legal_name"] = segment.get(1)
        elif segment.id == "N3":
            party["addresses"].append({"lines": [segment.get(1), segment.get(2)]})
        elif segment.id == "N4":
            self._locality(party, segment)
        elif segment.id == "PER":
            party["contact"] = _contact(segment)

    @staticmethod
    def _locality(party: dict[str, Any], segment: Segment) -> None:
        if not party["addresses"]:
            party["addresses"].append({"lines": []})
        party["addresses"][-1].update(
            city=segment.get(1),
            region=segment.get(2),
            postal_code=segment.get(3),
            country=segment.get(4),
        )

    def first(self, codes: tuple[str, ...]) -> dict[str, Any] | None:
        return next((self.parties[code] for code in codes if code in self.parties), None)


def _contact(segment: Segment) -> dict[str, str | None]:
    contact: dict[str, str | None] = {"name": segment.get(2)}
    for position in (3, 5, 7):
        qualifier, value = segment.get(position), segment.get(position + 1)
        if qualifier == "TE":
            contact["phone"] = value
        elif qualifier == "EM":
            contact["email"] = value
    return contact


def _sender(isa: Segment) -> dict[str, str | None] | None:
    """The interchange sender id: how the supplier is known even when no N1 names it."""
    return scheme_id(f"x12-isa:{isa.get(5)}", isa.get(6))


class InvoiceBuilder:
    """Walks an 810's segments in order; SAC and TXI mean line-level inside an IT1 loop and
    document-level after TDS, so position decides where each lands."""

    def __init__(self, isa: Segment) -> None:
        self.header: dict[str, Any] = {"currency": DEFAULT_CURRENCY, "notes": []}
        self.supplier_extra: dict[str, Any] = {"identifiers": [_sender(isa)], "tax_ids": []}
        self.parties = PartyLoop()
        self.lines: list[dict[str, Any]] = []
        self.document_sacs: list[dict[str, Any]] = []
        self.document_taxes: list[str | None] = []
        self.in_summary = False

    @property
    def line(self) -> dict[str, Any] | None:
        return self.lines[-1] if self.lines and not self.in_summary else None

    def feed(self, segment: Segment) -> None:
        if self.parties.feed(segment):
            return
        handler = getattr(self, f"_on_{segment.id.lower()}", None)
        if handler is not None:
            handler(segment)

    def _on_big(self, segment: Segment) -> None:
        self.header.update(
            issue_date=x12_date(segment.get(1)),
            invoice_number=segment.get(2),
            po_number=segment.get(4),
            document_type="credit_note"
            if segment.get(7) in CREDIT_TRANSACTION_TYPES
            else "invoice",
        )

    def _on_cur(self, segment: Segment) -> None:
        self.header["currency"] = segment.get(2)

    def _on_ref(self, segment: Segment) -> None:
        qualifier, value = segment.get(1), segment.get(2)
        if self.line is not None:
            key = {"PO": "po_number", "LI": "po_line"}.get(qualifier or "")
            if key:
                self.line[key] = value
            return
        if qualifier == "PO":
            self.header["po_number"] = self.header.get("po_number") or value
        elif qualifier == "IA":
            self.supplier_extra["erp_vendor_number"] = value
        elif qualifier in {"GT", "TJ", "VX"}:
            self.supplier_extra["tax_ids"].append(
                scheme_id({"GT": "GST", "TJ": "EIN", "VX": "VAT"}[qualifier], value)
            )
        elif qualifier == "VR":
            self.supplier_extra["identifiers"].append(scheme_id("vendor", value))

    def _on_itd(self, segment: Segment) -> None:
        self.header["payment_terms"] = {
            "text": segment.get(12),
            "discount_percent": segment.get(3),
            "discount_due_date": x12_date(segment.get(4)),
            "discount_days": segment.get(5),
            "net_days": segment.get(7),
        }
        self.header["due_date"] = x12_date(segment.get(6))

    def _on_it1(self, segment: Segment) -> None:
        self.in_summary = False
        self.lines.append(
            {
                "line_id": segment.get(1) or str(len(self.lines) + 1),
                "quantity": segment.get(2),
                "unit_code": segment.get(3),
                "unit_price": segment.get(4),
                **_item_ids(_product_ids(segment, 6)),
                "po_number": _product_ids(segment, 6).get("PO"),
                "po_line": _product_ids(segment, 6).get("PL"),
                "allowances_charges": [],
                "taxes": [],
            }
        )

    def _on_ctp(self, segment: Segment) -> None:
        # CTP in an 810 usually restates a retail price; it is the price only when IT104 is empty.
        if self.line is not None and not self.line.get("unit_price"):
            self.line["unit_price"] = segment.get(3)

    def _on_pid(self, segment: Segment) -> None:
        if self.line is not None and segment.get(5):
            self.line.setdefault("description", segment.get(5))

    def _on_sac(self, segment: Segment) -> None:
        amount = implied_decimal(segment.get(5))
        if segment.get(2) in TAX_SAC_CODES:
            self._tax(amount, segment.get(7))
            return
        if segment.get(1) not in {"A", "C"}:
            return  # "N": no allowance or charge, informational only
        sac = {
            "is_charge": segment.get(1) == "C",
            "amount": amount,
            "reason_code": segment.get(2),
            "percent": segment.get(7),
            "reason": segment.get(15),
        }
        (self.line["allowances_charges"] if self.line is not None else self.document_sacs).append(
            sac
        )

    def _on_txi(self, segment: Segment) -> None:
        self._tax(segment.get(2), segment.get(3))

    def _tax(self, amount: str | None, rate: str | None) -> None:
        if self.line is not None:
            self.line["taxes"].append(amount)
            self.line.setdefault("tax_rate", rate)
        else:
            self.document_taxes.append(amount)

    def _on_tds(self, segment: Segment) -> None:
        self.in_summary = True
        self.header["payable"] = implied_decimal(segment.get(1))

    def _on_msg(self, segment: Segment) -> None:
        self.header["notes"].append(segment.get(1))

    def _on_nte(self, segment: Segment) -> None:
        self.header["notes"].append(segment.get(2))

    def result(self) -> dict[str, Any]:
        lines = [_finish_line(line) for line in self.lines]
        supplier = self.parties.first(SUPPLIER_CODES) or {"identifiers": []}
        supplier = {
            **supplier,
            **{k: v for k, v in self.supplier_extra.items() if k not in {"identifiers", "tax_ids"}},
            "identifiers": supplier.get("identifiers", []) + self.supplier_extra["identifiers"],
            "tax_ids": self.supplier_extra["tax_ids"],
        }
        payable = self.header.pop("payable", None)
        return {
            **self.header,
            "supplier": supplier,
            "buyer": self.parties.first(BUYER_CODES),
            "ship_to": self.parties.first(SHIP_TO_CODES),
            "lines": lines,
            "allowances_charges": self.document_sacs,
            "totals": _totals(lines, self.document_sacs, self.document_taxes, payable),
        }


def _signed(sac: dict[str, Any]) -> str | None:
    return sac["amount"] if sac["is_charge"] else negate(sac["amount"])


def _extension(line: dict[str, Any]) -> str | None:
    """An 810 line carries no amount: quantity x price, plus the line's charges, less its
    allowances (taxes excluded), which is what a UBL LineExtensionAmount means."""
    quantity, price = to_decimal(line.get("quantity")), to_decimal(line.get("unit_price"))
    if quantity is None or price is None:
        return None
    return add(str(quantity * price), *(_signed(sac) for sac in line["allowances_charges"]))


def _finish_line(line: dict[str, Any]) -> dict[str, Any]:
    taxes = line.pop("taxes")
    return {
        **line,
        "line_extension_amount": _extension(line),
        "tax_amount": add(*taxes) if taxes else None,
    }


def _sum_sacs(sacs: list[dict[str, Any]], charge: bool) -> str | None:
    return add(*(sac["amount"] for sac in sacs if sac["is_charge"] is charge))


def _totals(
    lines: list[dict], sacs: list[dict], taxes: list[str | None], payable: str | None
) -> dict:
    line_total = add(*(line["line_extension_amount"] for line in lines))
    if any(line["line_extension_amount"] is None for line in lines):
        line_total = None
    allowances, charges = _sum_sacs(sacs, charge=False), _sum_sacs(sacs, charge=True)
    tax_total = add(*(line.get("tax_amount") for line in lines), *taxes)
    exclusive = add(line_total, charges, negate(allowances)) if line_total is not None else None
    return {
        "line_total": line_total,
        "allowance_total": allowances,
        "charge_total": charges,
        "tax_exclusive": exclusive,
        "tax_total": tax_total,
        "tax_inclusive": add(exclusive, tax_total) if exclusive is not None else None,
        "payable": payable,
    }


class AcknowledgmentBuilder:
    """Walks an 855: BAK for the header, N1 loops for parties, PO1 (+PID, ACK, DTM) per line."""

    def __init__(self, isa: Segment, group: Segment, control: str) -> None:
        self.header: dict[str, Any] = {"notes": [], "ack_number": control}
        self.group_date = x12_date(group.get(4))
        self.sender = _sender(isa)
        self.parties = PartyLoop()
        self.lines: list[dict[str, Any]] = []

    def feed(self, segment: Segment) -> None:
        if self.parties.feed(segment):
            return
        handler = getattr(self, f"_on_{segment.id.lower()}", None)
        if handler is not None:
            handler(segment)

    def _on_bak(self, segment: Segment) -> None:
        code = segment.get(2) or ""
        self.header.update(
            status=ACK_TYPES.get(code, code or None),
            po_number=segment.get(3),
            issue_date=x12_date(segment.get(9)) or self.group_date,
        )
        if segment.get(8):
            self.header["ack_number"] = segment.get(8)

    def _on_cur(self, segment: Segment) -> None:
        self.header["currency"] = segment.get(2)

    def _on_dtm(self, segment: Segment) -> None:
        if segment.get(1) not in DELIVERY_DATE_QUALIFIERS:
            return
        if self.lines:
            self.lines[-1]["changed_delivery_date"] = x12_date(segment.get(2))
        else:
            self.header["promised_delivery_date"] = x12_date(segment.get(2))

    def _on_po1(self, segment: Segment) -> None:
        self.lines.append(
            {
                "po_line": segment.get(1) or str(len(self.lines) + 1),
                "original_quantity": segment.get(2),
                "unit_code": segment.get(3),
                "original_unit_price": segment.get(4),
                **_item_ids(_product_ids(segment, 6)),
                "acks": [],
            }
        )

    def _on_pid(self, segment: Segment) -> None:
        if self.lines and segment.get(5):
            self.lines[-1].setdefault("description", segment.get(5))

    def _on_ctp(self, segment: Segment) -> None:
        if self.lines:
            self.lines[-1]["changed_unit_price"] = segment.get(3)

    def _on_ack(self, segment: Segment) -> None:
        if self.lines:
            self.lines[-1]["acks"].append(segment)

    def _on_nte(self, segment: Segment) -> None:
        target = self.lines[-1].setdefault("notes", []) if self.lines else self.header["notes"]
        target.append(segment.get(2))

    def result(self) -> dict[str, Any]:
        default = "reject" if self.header.get("status") == "rejected" else "accept"
        lines = [_finish_ack_line(line, default) for line in self.lines]
        status = self.header.get("status")
        if status == "accepted" and any(line["status"] != "accept" for line in lines):
            status = "accepted_with_changes"  # AD sent with exceptions in the detail
        supplier = self.parties.first(SUPPLIER_CODES) or {"identifiers": []}
        return {
            **self.header,
            "status": status,
            "supplier": {**supplier, "identifiers": [*supplier["identifiers"], self.sender]},
            "buyer": self.parties.first(BUYER_CODES),
            "ship_to": self.parties.first(SHIP_TO_CODES),
            "lines": lines,
        }


def _finish_ack_line(line: dict[str, Any], default: str) -> dict[str, Any]:
    """Without an ACK segment a line takes the header's answer; with several (a partial
    shipment, say), any that is not a plain acceptance makes the line a change."""
    acks: list[Segment] = line.pop("acks")
    codes = [ack.get(1) or "" for ack in acks]
    statuses = {LINE_STATUS.get(code, code) for code in codes}
    status = default if not acks else statuses.pop() if len(statuses) == 1 else "change"
    quantity = add(*(ack.get(2) for ack in acks if LINE_STATUS.get(ack.get(1) or "") != "reject"))
    if status == "change" and to_decimal(quantity) != to_decimal(line.get("original_quantity")):
        line["changed_quantity"] = quantity
    dated = [x12_date(ack.get(5)) for ack in acks if ack.get(4) in DELIVERY_DATE_QUALIFIERS]
    if dated:
        line["changed_delivery_date"] = dated[0]
    return {**line, "status": status}


def _document(isa: Segment, transaction_set: TransactionSet) -> dict[str, Any]:
    body = transaction_set.segments[1:-1]
    builder: InvoiceBuilder | AcknowledgmentBuilder
    if transaction_set.set_id == "810":
        builder = InvoiceBuilder(isa)
    else:
        builder = AcknowledgmentBuilder(isa, transaction_set.group, transaction_set.control)
    for segment in body:
        builder.feed(segment)
    return builder.result()


def parse(payload: bytes, kind: Kind) -> list[RawDocument]:
    """Every transaction set of the interchange, refusing the payload if any is not `kind`."""
    isa, sets = transaction_sets(payload)
    for transaction_set in sets:
        if SET_KINDS.get(transaction_set.set_id) != kind:
            where = transaction_set.segments[0].where
            raise not_accepted(f"X12 {transaction_set.set_id}", kind, where)
    return [
        RawDocument(
            prune(_document(isa, transaction_set)),
            f"ST {transaction_set.control} ({transaction_set.set_id})",
            transaction_set.span,
        )
        for transaction_set in sets
    ]
