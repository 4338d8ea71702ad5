"""`python -m tests.chaos.seed`, run against the chaos cluster's database: the suppliers the
suite submits for (the first vendors of the mock ERP's catalogue, so their POs validate), each
on a tier wide enough never to answer 429, with an API client, and an ops user who reads the
console during the faults. Prints the suppliers as JSON."""

from __future__ import annotations

import json

from app import create_app
from app.db import db
from app.erp.interface import PoStatus
from app.erp.mock.catalog import VENDORS, VendorSeed
from app.erp.mock.seed import build_seed
from app.orgs.roles import Role
from app.throttling.models import OrganizationTier, Tier
from tests.factories.accounts import UserFactory
from tests.factories.oauth import ApiClientFactory
from tests.factories.orgs import OrganizationFactory

SUPPLIERS = 4
WIDE = 2_000_000_000


def seed() -> list[dict]:
    tier = Tier(
        name="chaos",
        requests_per_minute=WIDE,
        burst_per_second=WIDE,
        requests_per_day=WIDE,
        max_body_bytes=10_000_000,
        documents_per_day=WIDE,
    )
    rows = []
    for vendor in _invoiceable_vendors()[:SUPPLIERS]:
        org = OrganizationFactory(
            supplier=True,
            name=vendor.name,
            erp_vendor_number=vendor.number,
            country=vendor.country,
        )
        db.session.add(OrganizationTier(organization_id=org.id, tier=tier))
        client = ApiClientFactory(organization=org, name="chaos client")
        rows.append(
            {
                "org_id": org.id,
                "name": org.name,
                "vendor_number": vendor.number,
                "client_id": client.client_id,
                "client_secret": client.secret,
            }
        )
    UserFactory(email="ops@chaos.example", role=Role.OPS)  # tests.chaos.console.OPS_EMAIL
    db.session.commit()
    return rows


def _invoiceable_vendors() -> list[VendorSeed]:
    """Vendors with goods received on some PO: their invoices can match."""
    received = (PoStatus.RECEIVED, PoStatus.PARTIALLY_RECEIVED)
    numbers = {po.vendor_number for po in build_seed().purchase_orders if po.status in received}
    return [vendor for vendor in VENDORS if vendor.number in numbers]


if __name__ == "__main__":
    with create_app().app_context():
        print(json.dumps(seed()))
