"""The webhook pages of supplier and partner admins."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import db
from app.orgs.roles import Role
from app.webhooks import services
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import run_jobs
from tests.onboarding.helpers import confirm_it_is_me
from tests.webhooks.conftest import endpoint_for

SECRET_RE = re.compile(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<')


def _admin(client, org, role=Role.SUPPLIER_ADMIN):
    user = UserFactory(role=role, role__organization=org)
    db.session.commit()
    login(client, user.email, PASSWORD)
    confirm_it_is_me(client, "/webhooks/new")
    return user


def _post(client, path: str, page_path: str, **data):
    token = csrf_token(client.get(page_path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def _actions() -> list[str]:
    return db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("webhook.%")).order_by(AuditEntry.id)
    ).all()


@pytest.mark.parametrize("role", [Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN])
def test_an_admin_creates_an_endpoint_and_sees_the_secret_once(client, receiver, role):
    org = OrganizationFactory(partner=True) if role == Role.PARTNER_ADMIN else None
    org = org or OrganizationFactory(supplier=True)
    _admin(client, org, role)

    response = _post(
        client,
        "/webhooks/new",
        "/webhooks/new",
        url=receiver.url,
        description="ERP bridge",
        event_types=["invoice.posted", "invoice.paid"],
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    endpoint = db.session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org.id)
    )
    assert endpoint.secret == secret
    assert endpoint.event_types == ["invoice.posted", "invoice.paid"]
    page = client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    assert secret not in page
    assert receiver.url in client.get("/webhooks").get_data(as_text=True)
    assert _actions() == ["webhook.created"]


def test_an_internal_address_is_refused_beside_the_form(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    _admin(client, OrganizationFactory(supplier=True))

    response = _post(
        client,
        "/webhooks/new",
        "/webhooks/new",
        url="https://169.254.169.254/latest/meta-data/",
        event_types=["invoice.paid"],
    )

    assert response.status_code == 200
    assert "internal address" in response.get_data(as_text=True)
    assert db.session.scalar(select(WebhookEndpoint)) is None


def test_the_admin_edits_pings_disables_and_enables(client, receiver):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    endpoint = endpoint_for(receiver, org)
    page = f"/webhooks/{endpoint.id}"

    edited = _post(
        client, page, page, url=receiver.url, description="new", event_types=["invoice.rejected"]
    )
    assert edited.status_code == 302
    _post(client, f"{page}/ping", page)
    run_jobs()
    log = client.get(page).get_data(as_text=True)
    assert "webhook.test" in log
    assert "delivered" in log
    assert "200" in log
    _post(client, f"{page}/disable", page)
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.event_types == ["invoice.rejected"]
    assert not endpoint.enabled
    assert "Disabled by" in client.get(page).get_data(as_text=True)
    _post(client, f"{page}/enable", page)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled
    assert _actions() == [
        "webhook.created",
        "webhook.updated",
        "webhook.pinged",
        "webhook.disabled",
        "webhook.enabled",
    ]


def test_rotating_shows_the_new_secret_once_and_both_sign_for_the_overlap(client, receiver):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    endpoint = endpoint_for(receiver, org)
    old = receiver.secret
    page = f"/webhooks/{endpoint.id}"

    response = _post(client, f"{page}/rotate", page)

    new = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    assert new != old
    assert response.headers["Cache-Control"] == "no-store"
    _post(client, f"{page}/ping", page)
    run_jobs()
    (got,) = receiver.received
    assert got.error is None  # verified with the old secret
    receiver.secret = new
    assert receiver.verify(got.headers, got.body).error is None
    assert "webhook.secret_rotated" in _actions()


def test_redeliver_and_replay_from_the_log(client, receiver):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    endpoint = endpoint_for(receiver, org)
    page = f"/webhooks/{endpoint.id}"
    delivery = services.ping(endpoint)
    delivery.retry_until = delivery.created_at  # no retries: fails at once
    db.session.commit()
    receiver.answer(500)
    run_jobs()
    assert "Redeliver" in client.get(page).get_data(as_text=True)

    _post(client, f"{page}/deliveries/{delivery.id}/redeliver", page)
    receiver.answer(500)
    run_jobs()
    db.session.expire_all()
    delivery = db.session.get(WebhookDelivery, delivery.id)
    delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    db.session.commit()

    response = _post(client, f"{page}/replay", page, since="2000-01-01T00:00")
    assert response.status_code == 302
    run_jobs()

    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery.id).status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 3
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.message_id}
    assert _actions()[-2:] == ["webhook.redelivered", "webhook.replayed"]


def test_redelivering_a_message_still_queued_adds_nothing_and_says_so(client, receiver):
    """A page opened before a retry was scheduled (or a second tab) still shows Redeliver."""
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    endpoint = endpoint_for(receiver, org)
    page = f"/webhooks/{endpoint.id}"
    delivery = services.ping(endpoint)
    db.session.commit()
    receiver.answer(500)
    run_jobs()  # failed once: its retry is scheduled
    db.session.expire_all()
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert delivery.status == DeliveryStatus.PENDING
    due, actions = delivery.next_attempt_at, _actions()

    response = _post(client, f"{page}/deliveries/{delivery.id}/redeliver", page)

    assert response.status_code == 302
    shown = client.get(page).get_data(as_text=True)
    assert f"Message {delivery.message_id} is already queued" in shown
    assert f"next attempt {due:%Y-%m-%d %H:%M} UTC" in shown
    assert "is sent again" not in shown
    assert _actions() == actions  # no webhook.redelivered entry
    assert run_jobs() == 0  # and no job: the scheduled retry is the only one
    db.session.expire_all()
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.PENDING, due)


def test_a_form_without_its_csrf_token_is_refused(client, receiver):
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    endpoint = endpoint_for(receiver, org)
    response = client.post(f"/webhooks/{endpoint.id}/disable")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled


PAGES = [
    ("get", ""),
    ("post", ""),
    ("post", "/enable"),
    ("post", "/disable"),
    ("post", "/rotate"),
    ("post", "/ping"),
    ("post", "/delete"),
    ("post", "/replay"),
    ("post", "/deliveries/{delivery}/redeliver"),
]


@pytest.mark.parametrize(("method", "suffix"), PAGES)
def test_another_organizations_endpoint_answers_404_on_every_page(client, receiver, method, suffix):
    theirs = endpoint_for(receiver, OrganizationFactory(partner=True))
    delivery = services.ping(theirs)
    db.session.commit()
    _admin(client, OrganizationFactory(supplier=True))
    token = csrf_token(client.get("/webhooks/new").get_data(as_text=True))
    path = f"/webhooks/{theirs.id}" + suffix.format(delivery=delivery.id)

    response = getattr(client, method)(
        path, data={"csrf_token": token, "since": "2000-01-01T00:00"}
    )

    assert response.status_code == 404
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, theirs.id)
    assert endpoint is not None
    assert endpoint.enabled
    assert endpoint.previous_secret is None
    assert len(services.deliveries_of(endpoint)) == 1


def test_only_admins_see_the_pages(client):
    user = UserFactory(role=Role.SUPPLIER_USER)
    db.session.commit()
    login(client, user.email, PASSWORD)
    assert client.get("/webhooks").status_code == 403


def test_the_list_shows_only_own_endpoints_and_another_delivery_cannot_be_redelivered(
    client, receiver
):
    theirs = endpoint_for(receiver, OrganizationFactory(partner=True))
    their_delivery = services.ping(theirs)
    org = OrganizationFactory(supplier=True)
    _admin(client, org)
    mine, _ = services.create_endpoint(org, "https://hooks.example.com/mine", ["invoice.paid"])
    db.session.commit()

    listing = client.get("/webhooks").get_data(as_text=True)
    assert "hooks.example.com/mine" in listing
    assert receiver.url not in listing
    page = f"/webhooks/{mine.id}"
    response = _post(client, f"{page}/deliveries/{their_delivery.id}/redeliver", page)
    assert response.status_code == 404
