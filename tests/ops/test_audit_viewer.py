"""The audit viewer: details as fields, targets named by what they are, four filters; and the
"LocalProxy 5" entries fixed where they were written."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.audit.services import record
from app.db import db
from tests.conftest import csrf_token


def test_sign_out_audits_the_user_not_its_proxy(ops_client):
    page = ops_client.get("/ops/audit").get_data(as_text=True)
    ops_client.post("/logout", data={"csrf_token": csrf_token(page)})
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.logout")).one()
    assert (entry.target_type, entry.target_id) == ("User", str(entry.actor_user_id))


def test_details_read_as_fields_and_targets_by_name(ops_client):
    record(
        "hold.released",
        actor_label="clerk@hospital.example",
        target_type="Document",
        target_id=42,
        details={
            "reason": 'late "goods" receipt',
            "amount": {"expected": "10.00"},
            "codes": ["PRICE", "QTY"],
            "note": None,
        },
    )
    record("auth.logout", actor_label="old@hospital.example", target_type="LocalProxy", target_id=5)
    page = ops_client.get("/ops/audit").get_data(as_text=True)
    assert "<dt>reason</dt><dd>late &#34;goods&#34; receipt</dd>" in page
    assert "<dt>amount.expected</dt><dd>10.00</dd>" in page
    assert "<dt>codes</dt><dd>PRICE, QTY</dd>" in page
    assert "<dt>note</dt><dd>—</dd>" in page
    assert "\\u" not in page
    assert "{&#34;" not in page
    assert '<a href="/ops/documents/42">Document 42</a>' in page
    assert "User 5" in page
    assert "LocalProxy" not in page


def entries_shown(client, **filters) -> list[str]:
    page = client.get("/ops/audit", query_string=filters).get_data(as_text=True)
    rows = page.split('id="audit"')[1].split("</table>")[0] if 'id="audit"' in page else ""
    return [a for a in ("probe.one", "probe.two", "probe.three") if f"<td>{a}</td>" in rows]


def test_filters_by_actor_action_target_and_time(ops_client):
    one = record(
        "probe.one", actor_label="ann@hospital.example", target_type="Document", target_id=1
    )
    record("probe.two", actor_label="bob@hospital.example", target_type="Document", target_id=2)
    record(
        "probe.three", actor_label="bob@hospital.example", target_type="Organization", target_id=1
    )
    assert entries_shown(ops_client, actor="bob@") == ["probe.two", "probe.three"]
    assert entries_shown(ops_client, action="probe.t") == ["probe.two", "probe.three"]
    assert entries_shown(ops_client, target="Document") == ["probe.one", "probe.two"]
    assert entries_shown(ops_client, target="document 2") == ["probe.two"]
    assert entries_shown(ops_client, target="1") == ["probe.one", "probe.three"]
    after = (one.at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    before = (one.at - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert entries_shown(ops_client, since=after) == []
    assert entries_shown(ops_client, since=before, until=after, action="probe.") == [
        "probe.one",
        "probe.two",
        "probe.three",
    ]


def test_targets_are_named_by_what_they_are_and_the_name_people_know(ops_client):
    from app.webhooks import services as webhooks
    from tests.factories.accounts import UserFactory
    from tests.factories.documents import DocumentFactory
    from tests.factories.orgs import OrganizationFactory

    org = OrganizationFactory(supplier=True, name="Lakeside Medical Supply")
    endpoint, _ = webhooks.create_endpoint(
        org, "https://hooks.lakeside.example/portal?x=1", ["invoice.received"]
    )
    user = UserFactory(email="ann@lakeside.example")
    document = DocumentFactory(document_number="INV-7781")
    for target in (endpoint, user, org, document):
        record("probe.named", actor_label="system", target=target)
    record("probe.gone", actor_label="system", target_type="WebhookEndpoint", target_id=999999)

    page = ops_client.get("/ops/audit", query_string={"action": "probe."}).get_data(as_text=True)

    assert f"Webhook endpoint {endpoint.id} · hooks.lakeside.example<" in page
    assert f"User {user.id} · ann@lakeside.example<" in page
    assert f"Organization {org.id} · Lakeside Medical Supply<" in page
    assert f"Document {document.id} · invoice INV-7781</a>" in page
    assert "Webhook endpoint 999999<" in page  # deleted since: its kind and id
    assert "WebhookEndpoint" not in page
    assert "?x=1" not in page  # the host, not the whole URL


def test_a_target_is_found_by_the_name_of_its_kind(ops_client):
    record("probe.one", actor_label="system", target_type="WebhookEndpoint", target_id=7)
    record("probe.two", actor_label="system", target_type="ApiClient", target_id=7)
    record("probe.three", actor_label="system", target_type="WebhookEndpoint", target_id=8)
    assert entries_shown(ops_client, target="Webhook endpoint 7") == ["probe.one"]
    assert entries_shown(ops_client, target="webhook endpoint") == ["probe.one", "probe.three"]
    assert entries_shown(ops_client, target="API client 7") == ["probe.two"]
    assert entries_shown(ops_client, target="WebhookEndpoint 8") == ["probe.three"]


def test_one_query_per_kind_of_target_whatever_the_page_holds(ops_client):
    from sqlalchemy import event

    from tests.factories.accounts import UserFactory

    for n in range(12):
        record("probe.many", actor_label="system", target=UserFactory(email=f"u{n}@x.example"))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        if "FROM users" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        page = ops_client.get("/ops/audit", query_string={"action": "probe.many"})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert page.get_data(as_text=True).count("@x.example<") == 12
    assert len([s for s in statements if " IN " in s]) == 1, statements
