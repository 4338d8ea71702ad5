"""/api/v1/webhooks with the webhooks:manage scope: every call, and every call refused for
another organization's endpoint."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.db import db
from app.webhooks import services
from app.webhooks.models import WebhookEndpoint
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import bearer, run_jobs
from tests.webhooks.conftest import endpoint_for

SCOPE = "webhooks:manage"


@pytest.fixture
def partner():
    return OrganizationFactory(partner=True)


@pytest.fixture
def auth(partner):
    return bearer(partner, SCOPE)


def _create(client, auth, url, **extra):
    body = {"url": url, "event_types": ["invoice.paid", "invoice.received"], **extra}
    return client.post("/api/v1/webhooks", json=body, headers=auth)


def test_create_answers_the_secret_once_and_keeps_it_encrypted(client, auth, receiver):
    response = _create(client, auth, receiver.url, description="ERP bridge")

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["invoice.received", "invoice.paid"]
    assert response.headers["Location"].endswith(f"/api/v1/webhooks/{body['id']}")
    stored = db.session.execute(
        text("SELECT secret FROM webhook_endpoints WHERE id = :id"), {"id": body["id"]}
    ).scalar()
    assert body["secret"] not in stored  # encrypted at rest
    read = client.get(f"/api/v1/webhooks/{body['id']}", headers=auth).json
    assert "secret" not in read
    assert [e["id"] for e in client.get("/api/v1/webhooks", headers=auth).json["data"]] == [
        body["id"]
    ]


def test_patch_changes_events_and_disables_with_a_reason(client, auth, receiver):
    created = _create(client, auth, receiver.url).json

    response = client.patch(
        f"/api/v1/webhooks/{created['id']}",
        json={"event_types": ["invoice.on_hold"], "enabled": False},
        headers=auth,
    )

    assert response.status_code == 200
    assert response.json["event_types"] == ["invoice.on_hold"]
    assert response.json["enabled"] is False
    assert "api client" in response.json["disabled_reason"]
    for refused in ({"event_types": ["nope"]}, {"event_types": []}, {"description": "x" * 201}):
        bad = client.patch(f"/api/v1/webhooks/{created['id']}", json=refused, headers=auth)
        assert bad.status_code == 400, refused
    assert (
        client.patch(
            f"/api/v1/webhooks/{created['id']}", json={"secret": "x"}, headers=auth
        ).status_code
        == 400
    )
    assert (
        client.patch(
            f"/api/v1/webhooks/{created['id']}",
            data="[]",
            headers={**auth, "Content-Type": "application/json"},
        ).status_code
        == 400
    )


def test_rotate_ping_and_deliveries(client, auth, receiver):
    created = _create(client, auth, receiver.url).json
    receiver.secret = created["secret"]

    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=auth)
    assert rotated.status_code == 200
    new_secret = rotated.json["secret"]
    assert new_secret != created["secret"]
    assert rotated.json["previous_secret_expires_at"] is not None

    ping = client.post(f"/api/v1/webhooks/{created['id']}/ping", headers=auth)
    assert ping.status_code == 202
    run_jobs()

    (got,) = receiver.received
    assert got.error is None  # the old secret still verifies during the overlap
    receiver.secret = new_secret
    assert receiver.verify(got.headers, got.body).error is None  # and so does the new one
    log = client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=auth).json["data"]
    assert log[0]["message_id"] == ping.json["message_id"]
    assert log[0]["status"] == "delivered"
    assert log[0]["attempts"][0]["status_code"] == 200
    assert (
        client.get(f"/api/v1/webhooks/{created['id']}/deliveries?limit=0", headers=auth).status_code
        == 400
    )


def test_delete(client, auth, receiver):
    created = _create(client, auth, receiver.url).json
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/webhooks/{created['id']}", headers=auth).status_code == 404


def test_every_change_is_audited(client, auth, receiver):
    created = _create(client, auth, receiver.url).json
    client.patch(f"/api/v1/webhooks/{created['id']}", json={"description": "x"}, headers=auth)
    client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=auth)
    client.post(f"/api/v1/webhooks/{created['id']}/ping", headers=auth)
    client.delete(f"/api/v1/webhooks/{created['id']}", headers=auth)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "WebhookEndpoint")
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.pinged",
        "webhook.deleted",
    ]
    assert all(e.actor_label.startswith("api client ") for e in entries)
    assert all(created["secret"] not in str(e.details) for e in entries)


CALLS = [
    ("get", ""),
    ("patch", ""),
    ("delete", ""),
    ("post", "/rotate-secret"),
    ("post", "/ping"),
    ("get", "/deliveries"),
]


@pytest.mark.parametrize(("method", "suffix"), CALLS)
def test_another_organizations_endpoint_does_not_exist_for_the_caller(
    client, auth, receiver, method, suffix
):
    theirs = endpoint_for(receiver, OrganizationFactory(supplier=True))
    url = f"/api/v1/webhooks/{theirs.id}{suffix}"

    response = getattr(client, method)(url, json={"enabled": False}, headers=auth)

    assert response.status_code == 404
    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, theirs.id)
    assert endpoint is not None
    assert endpoint.enabled
    assert services.deliveries_of(endpoint) == []
    listed = client.get("/api/v1/webhooks", headers=auth).json["data"]
    assert listed == []


def test_the_scope_is_required(client, partner):
    auth = bearer(partner, "documents:read")
    assert client.get("/api/v1/webhooks", headers=auth).status_code == 403
    assert client.get("/api/v1/webhooks").status_code == 401


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_the_openapi_document_describes_every_webhook_call(client, app):
    document = client.get("/api/openapi.json").json
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/webhooks"):
            continue
        path = re.sub(r"<int:(\w+)>", "{id}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)
            if "{id}" in path:
                assert "404" in operation["responses"], (path, method)
    for ref in set(_refs(document)):
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][kind], ref
    assert "documentEvent" in document["webhooks"]
