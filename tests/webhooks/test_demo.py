"""seed-demo gives the partner traffic: an API client that sent a connected supplier's invoices
(counted on its usage page), and a webhook endpoint with a delivery log its admin can open."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db, unit_of_work, utcnow
from app.demo import DEMO_PASSWORD, PARTNER_NAME, seed_demo
from app.documents.models import Channel, Document
from app.oauth.models import ApiClient
from app.orgs.models import Connection, Organization
from app.throttling.enforcement import throttling
from app.throttling.services import tier_limits_for
from app.throttling.usage import organization_usage
from app.webhooks import services
from app.webhooks.demo import DEMO_URL
from app.webhooks.models import DeliveryStatus
from tests.conftest import login
from tests.intake.helpers import run_jobs


def test_the_demo_partner_has_an_endpoint_and_a_log(client, monkeypatch):
    monkeypatch.setattr(
        "app.demo.seed_invoices", lambda suppliers, via=None: None
    )  # not needed here
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


def test_the_demo_partner_has_a_client_and_traffic_for_a_connected_supplier(client, portal_erp):
    with unit_of_work():
        seed_demo()
    run_jobs()
    db.session.expire_all()
    partner = db.session.scalar(select(Organization).where(Organization.name == PARTNER_NAME))
    (api_client,) = db.session.scalars(
        select(ApiClient).where(ApiClient.organization_id == partner.id)
    ).all()
    assert api_client.last_used_at is not None
    sent = db.session.scalars(select(Document).where(Document.sender_org_id == partner.id)).all()
    assert len(sent) >= 3
    connected = {c.supplier_id for c in db.session.scalars(select(Connection))}
    assert all(d.payload.channel == Channel.API for d in sent)
    assert all(d.client_id == api_client.id for d in sent)
    assert {d.supplier_org_id for d in sent} <= connected
    assert len({d.state for d in sent}) >= 2  # some went through, some are held

    # The partner's admin sees them among its documents and its client's calls on its usage page.
    login(client, "admin@medlink.example", DEMO_PASSWORD)
    documents = client.get("/documents").get_data(as_text=True)
    assert all(f"/documents/{d.id}" in documents for d in sent[:3])
    usage = client.get("/api-usage")
    assert usage.status_code == 200
    page = usage.get_data(as_text=True)
    figures = organization_usage(
        throttling().redis, partner.id, utcnow(), lambda _: tier_limits_for(partner.id, 0)
    )
    (used,) = figures.clients
    # Four calls per document; a burst beyond the tier's per-second rate was refused with 429
    # and counted as throttled (how many depends on how fast the seed ran).
    assert used.requests + used.throttled == 4 * len(sent)
    assert used.requests >= 10
    assert used.documents == len(sent)
    assert f"<td>{used.label}</td>" in page
    assert f"{used.requests:,} / " in page
    portal_erp.reset()  # the demo's invoices were posted to the shared mock ERP
