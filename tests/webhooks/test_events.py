"""Document changes owe webhook messages in their own transaction, to the supplier's and the
sending partner's endpoints that subscribe; payloads are thin."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from rq import Queue
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from app.db import db
from app.documents.models import Document, DocumentState
from app.documents.transitions import transition
from app.holds.signals import info_requested
from app.jobs import QUEUE_NAMES, redis_connection
from app.oauth import client_cache
from app.orgs.models import ConnectionScope
from app.webhooks import events, services
from app.webhooks.models import WebhookDelivery
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import bearer, run_jobs
from tests.webhooks.conftest import endpoint_for

JSON = {"Content-Type": "application/json"}


def _deliveries(org_id: int | None = None) -> list[WebhookDelivery]:
    db.session.expire_all()
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if org_id is not None:
        query = query.where(WebhookDelivery.organization_id == org_id)
    return list(db.session.scalars(query))


@pytest.fixture
def network_and_acme():
    network, acme = OrganizationFactory(partner=True), OrganizationFactory(supplier=True)
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    return network, acme


def _send_for(client, network, acme) -> list[int]:
    response = client.post(
        "/api/v1/invoices",
        data=local("json_two_documents.json"),
        headers={**bearer(network), **JSON, "On-Behalf-Of": str(acme.id)},
    )
    assert response.status_code == 202, response.json
    return [d["id"] for d in response.json["documents"]]


def test_received_invoices_reach_the_supplier_and_the_partner_that_subscribe(
    client, receiver, network_and_acme
):
    network, acme = network_and_acme
    partner_endpoint = endpoint_for(receiver, network, ("invoice.received", "invoice.paid"))
    supplier_endpoint, _ = services.create_endpoint(acme, receiver.url, ["invoice.received"])
    services.create_endpoint(acme, receiver.url, ["invoice.paid"])  # not subscribed
    bystander = OrganizationFactory(supplier=True)
    services.create_endpoint(bystander, receiver.url, ["invoice.received"])
    db.session.commit()

    ids = _send_for(client, network, acme)

    owed = _deliveries()
    assert {(d.endpoint_id, d.document_id) for d in owed} == {
        (endpoint.id, document_id)
        for endpoint in (partner_endpoint, supplier_endpoint)
        for document_id in ids
    }
    body = json.loads(owed[0].body)
    assert body["type"] == "invoice.received"
    assert set(body["data"]) == {"document_id", "kind", "state", "previous_state", "href"}
    assert body["data"]["href"].endswith(f"/api/v1/documents/{body['data']['document_id']}")
    assert "J-1" not in owed[0].body  # never the invoice's contents (its number included)
    run_jobs()  # normalize, validate... and the deliveries
    partner_got = [r for r in receiver.received if r.verified]
    assert len(partner_got) == 2  # the receiver's secret is the partner endpoint's


def test_a_state_change_owes_its_event_and_internal_steps_owe_none(client, network_and_acme):
    network, acme = network_and_acme
    endpoint, _ = services.create_endpoint(
        acme, "https://hooks.example.com/x", ["invoice.rejected"]
    )
    db.session.commit()
    document_id = _send_for(client, network, acme)[0]
    assert _deliveries() == []  # invoice.received is not subscribed

    document = db.session.get(Document, document_id)
    transition(document, DocumentState.REJECTED, "system", "unreadable")
    db.session.flush()

    (owed,) = _deliveries()
    assert owed.endpoint_id == endpoint.id
    payload = json.loads(owed.body)
    assert payload["type"] == "invoice.rejected"
    assert payload["data"]["previous_state"] == "RECEIVED"
    assert payload["data"]["state"] == "REJECTED"


def test_a_change_that_rolls_back_owes_nothing_and_sends_nothing(
    client, receiver, network_and_acme
):
    network, acme = network_and_acme
    endpoint_for(receiver, acme, ("invoice.rejected",))
    document_id = _send_for(client, network, acme)[0]
    for name in QUEUE_NAMES:  # leave the documents where they are
        Queue(name, connection=redis_connection()).empty()

    savepoint = db.session.begin_nested()
    transition(db.session.get(Document, document_id), DocumentState.REJECTED, "system", "x")
    db.session.flush()
    assert len(_deliveries()) == 1
    savepoint.rollback()
    db.session.commit()
    run_jobs()

    assert _deliveries() == []
    assert receiver.received == []


def test_publish_owes_an_event_that_is_not_a_transition(client, network_and_acme):
    network, acme = network_and_acme
    services.create_endpoint(network, "https://hooks.example.com/x", ["invoice.info_requested"])
    db.session.commit()
    document_id = _send_for(client, network, acme)[0]

    owed = events.publish("invoice.info_requested", document_id, [acme.id, network.id])

    assert [d.organization_id for d in owed] == [network.id]
    assert json.loads(owed[0].body)["data"]["document_id"] == document_id
    with pytest.raises(ValueError, match="not a webhook event"):
        events.publish("invoice.exploded", document_id, [acme.id])


def test_a_csv_of_many_invoices_reads_the_endpoints_once(client, network_and_acme):
    network, acme = network_and_acme
    services.create_endpoint(acme, "https://hooks.example.com/x", ["invoice.received"])
    db.session.commit()
    with _endpoint_reads() as statements:
        _send_for(client, network, acme)

    assert len(statements) == 1
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


@contextlib.contextmanager
def _endpoint_reads() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "FROM webhook_endpoints" in statement:
            statements.append(statement)

    engine = db.session.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_api_calls_share_the_subscriptions_until_an_endpoint_changes(app, client, network_and_acme):
    """Intake asks the database for the subscriptions once per process; a committed change to
    an endpoint, in any process, moves the shared epoch and the next call reads them again."""
    network, acme = network_and_acme
    headers = {**bearer(network), **JSON, "On-Behalf-Of": str(acme.id)}  # one client throughout

    sent = []

    def send() -> None:  # new invoice numbers each time: the same bytes again are refused
        sent.append(None)
        body = local("json_two_documents.json").replace(b'"J-', f'"J{len(sent)}-'.encode())
        assert client.post("/api/v1/invoices", data=body, headers=headers).status_code == 202

    services.create_endpoint(acme, "https://hooks.example.com/a", ["invoice.received"])
    db.session.commit()
    with _endpoint_reads() as first:
        send()
    with _endpoint_reads() as second:
        send()
    assert (len(first), len(second)) == (1, 0)
    assert len(_deliveries(acme.id)) == 4

    kept = app.extensions[events._SHARED]  # what another process still holds
    epoch = redis_connection().get(client_cache.EPOCH_KEY)
    services.create_endpoint(acme, "https://hooks.example.com/b", ["invoice.received"])
    db.session.commit()
    assert redis_connection().get(client_cache.EPOCH_KEY) != epoch
    app.extensions[events._SHARED] = kept
    with _endpoint_reads() as after_change:
        send()
    assert len(after_change) == 1
    assert len(_deliveries(acme.id)) == 4 + 2 * 2  # both endpoints now


def test_finance_asking_a_question_owes_invoice_info_requested(client, network_and_acme):
    network, acme = network_and_acme
    services.create_endpoint(network, "https://hooks.example.com/x", ["invoice.info_requested"])
    db.session.commit()
    document_id = _send_for(client, network, acme)[0]

    info_requested.send(document_id)  # as app.holds.services.ask does

    owed = [d for d in _deliveries() if d.event_type == "invoice.info_requested"]
    assert [d.organization_id for d in owed] == [network.id]
    assert json.loads(owed[0].body)["data"]["document_id"] == document_id
