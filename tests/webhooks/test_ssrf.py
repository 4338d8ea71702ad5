"""Webhook URLs go through the outbound guard: refused at registration when they name an
internal address, checked again at every delivery, connected to the checked address only,
redirects never followed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.webhooks import services
from app.webhooks.models import DeliveryStatus, WebhookEndpoint
from tests.factories.orgs import OrganizationFactory
from tests.foundation.test_outbound import PUBLIC
from tests.intake.helpers import bearer, run_jobs
from tests.webhooks.conftest import endpoint_for

REFUSED = [
    "http://hooks.example.com/plain-http",
    "https://10.0.0.5/hooks",
    "https://172.16.3.4/",
    "https://192.168.1.1/",
    "https://127.0.0.1/",
    "https://[::1]/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "https://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped and in hex
    "https://2130706433/",  # decimal
    "https://0x7f.1/",  # hex
    "https://0177.0.0.1/",  # octal
    "https://127.1/",
    "https://internal.example.com/",  # a name that resolves to a private address
    "ftp://hooks.example.com/",
]


@pytest.fixture
def strict(app, monkeypatch):
    """Production's policy: https and public addresses only."""
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_HTTP", False)


def _endpoints() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEndpoint))


@pytest.mark.parametrize("url", REFUSED)
def test_each_internal_address_or_spelling_is_refused_at_registration(client, strict, dns, url):
    dns["internal.example.com"] = [["10.1.2.3"]]
    dns["hooks.example.com"] = [[PUBLIC]]
    auth = bearer(OrganizationFactory(partner=True), "webhooks:manage")

    response = client.post(
        "/api/v1/webhooks", json={"url": url, "event_types": ["invoice.paid"]}, headers=auth
    )

    assert response.status_code == 400, response.json
    assert response.mimetype == "application/problem+json"
    assert _endpoints() == 0


def test_a_public_https_url_is_accepted(client, strict, dns):
    dns["hooks.example.com"] = [[PUBLIC]]
    auth = bearer(OrganizationFactory(partner=True), "webhooks:manage")
    response = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/in", "event_types": ["invoice.paid"]},
        headers=auth,
    )
    assert response.status_code == 201, response.json


def _public_endpoint(dns, host: str = "hooks.example.com") -> WebhookEndpoint:
    dns[host] = [[PUBLIC]]
    endpoint, _ = services.create_endpoint(
        OrganizationFactory(supplier=True), f"https://{host}/in", ["invoice.paid"]
    )
    services.ping(endpoint)
    db.session.commit()
    return endpoint


def test_a_name_that_turns_internal_after_registration_is_refused_at_delivery(
    strict, dns, connections
):
    endpoint = _public_endpoint(dns)
    dns["hooks.example.com"] = [["127.0.0.1"]]  # rebound after the registration's check

    run_jobs()

    assert connections == []  # nothing was connected to
    db.session.expire_all()
    (delivery,) = services.deliveries_of(endpoint)
    (attempt,) = delivery.attempts
    assert attempt.status_code is None
    assert "refused" in attempt.error
    assert "127.0.0.1" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING  # retried: the name may come back


def test_a_dns_answer_that_changes_between_check_and_connect_reaches_only_the_checked_address(
    strict, dns, connections
):
    endpoint = _public_endpoint(dns, "rebind.example.com")
    dns["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]  # public at the check, then local
    dns["lookups"].clear()

    run_jobs()

    assert connections == [(PUBLIC, 443)]
    assert dns["lookups"] == ["rebind.example.com"]  # resolved once, at this delivery's check
    (delivery,) = services.deliveries_of(endpoint)
    assert "could not connect" in delivery.attempts[0].error


def test_the_name_is_resolved_again_at_every_delivery(strict, dns, connections):
    endpoint = _public_endpoint(dns)
    services.ping(endpoint)
    db.session.commit()
    dns["lookups"].clear()

    run_jobs()

    assert dns["lookups"] == ["hooks.example.com", "hooks.example.com"]


def test_a_redirect_to_an_internal_address_is_not_followed(receiver, internal_service):
    endpoint = endpoint_for(receiver)
    receiver.answer(302, b"", Location=internal_service.url)
    services.ping(endpoint)
    db.session.commit()

    run_jobs()

    assert len(receiver.received) == 1
    assert internal_service.received == []
    (delivery,) = services.deliveries_of(endpoint)
    (attempt,) = delivery.attempts
    assert attempt.status_code == 302
    assert "not followed" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING
