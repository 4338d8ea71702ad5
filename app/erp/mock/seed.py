"""Deterministic demo data for the mock ERP: the same POs and receipts on every fresh database.

``build_seed()`` is pure (plain records from ``random.Random(42)`` and ``catalog``), so the
in-memory fake ERP can hold exactly what the mock ERP's database holds; ``load_seed()`` writes
those records into the mock ERP's tables.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.erp.interface import PoStatus, PurchaseOrder, PurchaseOrderLine
from app.erp.mock import catalog, models
from app.erp.mock.catalog import ItemSeed, Kind, VendorSeed

PO_COUNT = 200
FIRST_PO_NUMBER = 100001
FIRST_RECEIPT_NUMBER = 500001
ORDER_WINDOW_START = dt.date(2025, 1, 6)
ORDER_WINDOW_DAYS = 300
# Fixed, so that two fresh databases are byte-for-byte the same.
SEED_CREATED_AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
STATUS_WEIGHTS = {
    PoStatus.OPEN: 30,
    PoStatus.PARTIALLY_RECEIVED: 20,
    PoStatus.RECEIVED: 30,
    PoStatus.CLOSED: 20,
}
QUANTITY_RANGE: dict[Kind, tuple[int, int]] = {
    "implants": (1, 6),
    "surgical": (2, 40),
    "pharmacy": (5, 60),
}
PRICE_FACTORS = (Decimal("1.00"), Decimal("0.97"), Decimal("0.95"), Decimal("0.90"))
BUYERS = ("j.alvarez", "m.okafor", "s.lindqvist", "r.patel")


@dataclass
class SeedReceipt:
    number: str
    quantity: Decimal
    received_on: dt.date


@dataclass
class SeedPoLine:
    line_number: int
    item_number: str
    description: str
    uom: str
    quantity: Decimal
    unit_price: Decimal
    need_by_date: dt.date
    receipts: list[SeedReceipt] = field(default_factory=list)


@dataclass
class SeedPo:
    number: str
    vendor_number: str
    facility_code: str
    cost_centre_code: str
    status: PoStatus
    currency: str
    order_date: dt.date
    buyer_email: str
    lines: list[SeedPoLine] = field(default_factory=list)

    def as_purchase_order(self) -> PurchaseOrder:
        """This PO as the ERP interface reads it: what the running mock ERP answers for it."""
        lines = tuple(
            PurchaseOrderLine(
                line_number=line.line_number,
                item_number=line.item_number,
                description=line.description,
                uom=line.uom,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=(line.quantity * line.unit_price).quantize(Decimal("0.01")),
                quantity_received=sum((r.quantity for r in line.receipts), Decimal(0)),
                need_by_date=line.need_by_date,
            )
            for line in self.lines
        )
        return PurchaseOrder(
            number=self.number,
            vendor_number=self.vendor_number,
            facility_code=self.facility_code,
            cost_centre=self.cost_centre_code,
            status=self.status,
            currency=self.currency,
            order_date=self.order_date,
            buyer_email=self.buyer_email,
            total_amount=sum((line.amount for line in lines), Decimal(0)),
            lines=lines,
        )


@dataclass
class SeedData:
    purchase_orders: list[SeedPo]


def price_in(currency: str, usd: Decimal) -> Decimal:
    """An item's price in the vendor's currency."""
    if currency == "EUR":
        return (usd * catalog.EUR_PER_USD).quantize(Decimal("0.01"))
    return usd


def build_seed() -> SeedData:
    """Generate the ~200 purchase orders, with lines and receipts, deterministically."""
    rng = random.Random(42)
    dates = sorted(
        ORDER_WINDOW_START + dt.timedelta(days=rng.randrange(ORDER_WINDOW_DAYS))
        for _ in range(PO_COUNT)
    )
    receipt_numbers = iter(range(FIRST_RECEIPT_NUMBER, FIRST_RECEIPT_NUMBER + 10_000))
    pos = []
    for index, order_date in enumerate(dates):
        po = _build_po(rng, f"PO{FIRST_PO_NUMBER + index}", order_date)
        _add_receipts(rng, po, receipt_numbers)
        pos.append(po)
    return SeedData(purchase_orders=pos)


def _build_po(rng: random.Random, number: str, order_date: dt.date) -> SeedPo:
    vendor = rng.choice(catalog.VENDORS)
    facility = rng.choice(catalog.FACILITIES)
    centres = [
        c
        for c in catalog.COST_CENTRES
        if c.facility_code == facility.code and vendor.kind in c.kinds
    ]
    status = rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
    if not vendor.active:
        status = PoStatus.CLOSED  # an inactive vendor only has history
    po = SeedPo(
        number=number,
        vendor_number=vendor.number,
        facility_code=facility.code,
        cost_centre_code=rng.choice(centres).code,
        status=status,
        currency=vendor.currency,
        order_date=order_date,
        buyer_email=f"{rng.choice(BUYERS)}@greatlakeshealth.example",
    )
    po.lines = _build_lines(rng, vendor, order_date)
    return po


def _build_lines(rng: random.Random, vendor: VendorSeed, order_date: dt.date) -> list[SeedPoLine]:
    items: list[ItemSeed] = [i for i in catalog.ITEMS if i.kind == vendor.kind]
    low, high = QUANTITY_RANGE[vendor.kind]
    return [
        SeedPoLine(
            line_number=n,
            item_number=item.number,
            description=item.description,
            uom=item.uom,
            quantity=Decimal(rng.randint(low, high)),
            unit_price=(
                price_in(vendor.currency, item.list_price) * rng.choice(PRICE_FACTORS)
            ).quantize(Decimal("0.01")),
            need_by_date=order_date + dt.timedelta(days=rng.randint(7, 30)),
        )
        for n, item in enumerate(rng.sample(items, rng.randint(1, 4)), start=1)
    ]


def _received_quantities(rng: random.Random, po: SeedPo) -> list[int]:
    """How much of each line arrived, consistent with the PO's status."""
    ordered = [int(line.quantity) for line in po.lines]
    if po.status == PoStatus.OPEN:
        return [0] * len(ordered)
    if po.status != PoStatus.PARTIALLY_RECEIVED:
        return ordered
    if sum(ordered) < 2:
        po.status = PoStatus.OPEN  # a single unit cannot arrive in part
        return [0]
    received = [0]
    while not 0 < sum(received) < sum(ordered):
        received = [rng.randint(0, q) for q in ordered]
    return received


def _add_receipts(rng: random.Random, po: SeedPo, numbers: Iterator[int]) -> None:
    for line, quantity in zip(po.lines, _received_quantities(rng, po), strict=True):
        if quantity == 0:
            continue
        first = rng.randint(1, quantity) if quantity > 1 and rng.random() < 0.3 else quantity
        day = po.order_date + dt.timedelta(days=rng.randint(3, 20))
        for part in (first, quantity - first):
            if part:
                line.receipts.append(SeedReceipt(f"GR{next(numbers)}", Decimal(part), day))
                day += dt.timedelta(days=rng.randint(2, 10))


def load_seed(session: Session) -> None:
    """Write the catalogue and the generated POs into an empty mock ERP database."""
    facilities = {f.code: _facility_row(f) for f in catalog.FACILITIES}
    centres = {
        c.code: models.CostCentre(code=c.code, name=c.name, facility=facilities[c.facility_code])
        for c in catalog.COST_CENTRES
    }
    items = {i.number: _item_row(i) for i in catalog.ITEMS}
    vendors = {v.number: _vendor_row(v) for v in catalog.VENDORS}
    session.add_all([*facilities.values(), *centres.values(), *items.values(), *vendors.values()])
    for po in build_seed().purchase_orders:
        session.add(_po_row(po, vendors, facilities, centres, items))
    session.flush()


def is_seeded(session: Session) -> bool:
    return session.scalar(select(models.Facility.id).limit(1)) is not None


def _facility_row(f: catalog.FacilitySeed) -> models.Facility:
    return models.Facility(
        code=f.code,
        name=f.name,
        street=f.street,
        city=f.city,
        region=f.region,
        postal_code=f.postal_code,
        country=f.country,
    )


def _item_row(i: ItemSeed) -> models.Item:
    return models.Item(
        number=i.number,
        description=i.description,
        category=i.kind,
        uom=i.uom,
        list_price=i.list_price,
        currency="USD",
    )


def _vendor_row(v: VendorSeed) -> models.Vendor:
    return models.Vendor(
        number=v.number,
        name=v.name,
        tax_id=v.tax_id,
        tax_key=tax_key(v.tax_id),
        country=v.country,
        currency=v.currency,
        status=models.VendorStatus.ACTIVE if v.active else models.VendorStatus.INACTIVE,
        email=f"ar@{v.email_domain}",
        street=v.street,
        city=v.city,
        region=v.region,
        postal_code=v.postal_code,
        remit_bank_name=v.remit_to.bank_name,
        remit_scheme=v.remit_to.scheme,
        remit_bank_code=v.remit_to.bank_code,
        remit_account=v.remit_to.account,
        created_at=SEED_CREATED_AT,
    )


def _po_row(po: SeedPo, vendors, facilities, centres, items) -> models.PurchaseOrder:
    return models.PurchaseOrder(
        number=po.number,
        vendor=vendors[po.vendor_number],
        facility=facilities[po.facility_code],
        cost_centre=centres[po.cost_centre_code],
        status=po.status,
        currency=po.currency,
        order_date=po.order_date,
        buyer_email=po.buyer_email,
        lines=[
            models.PoLine(
                line_number=line.line_number,
                item=items[line.item_number],
                description=line.description,
                uom=line.uom,
                quantity=line.quantity,
                unit_price=line.unit_price,
                need_by_date=line.need_by_date,
                receipts=[
                    models.Receipt(number=r.number, quantity=r.quantity, received_on=r.received_on)
                    for r in line.receipts
                ],
            )
            for line in po.lines
        ],
    )


def tax_key(tax_id: str) -> str:
    """The form the ERP matches tax ids on: upper case, letters and digits only."""
    return "".join(ch for ch in tax_id.upper() if ch.isalnum())
