"""seed-demo gives the partner a webhook endpoint with a delivery log its admin can open."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.demo import DEMO_PASSWORD, PARTNER_NAME, seed_demo
from app.orgs.models import Organization
from app.webhooks import services
from app.webhooks.demo import DEMO_URL
from app.webhooks.models import DeliveryStatus
from tests.conftest import login


def test_the_demo_partner_has_an_endpoint_and_a_log(client, monkeypatch):
    monkeypatch.setattr("app.demo.seed_invoices", lambda suppliers: None)  # not needed here
    seed_demo()
    seed_demo()  # again: nothing new
    db.session.commit()
    partner = db.session.scalar(select(Organization).where(Organization.name == PARTNER_NAME))

    (endpoint,) = services.endpoints_of(partner.id)
    assert endpoint.url == DEMO_URL
    log = services.deliveries_of(endpoint)
    assert sorted(d.status for d in log) == sorted(
        [DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
    )
    assert sum(len(d.attempts) for d in log) == 5

    login(client, "admin@medlink.example", DEMO_PASSWORD)
    page = client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "upstream unavailable" in page
    assert "Redeliver" in page
