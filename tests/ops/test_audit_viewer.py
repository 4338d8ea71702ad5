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
