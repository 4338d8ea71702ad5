"""The audit log is append-only and hash-chained; `flask audit verify` finds any edit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit.models import GENESIS_HASH, AuditEntry, AuditLogAppendOnlyError
from app.audit.services import mask_secrets, record, verify_chain
from app.db import db


def _three_entries() -> list[AuditEntry]:
    return [record("test.event", actor_label="tester", details={"n": n}) for n in range(3)]


def test_each_entry_holds_the_hash_of_the_previous_one():
    first, second, third = _three_entries()
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert verify_chain() == (3, [])


def test_cli_verify_passes_on_an_intact_chain(app):
    _three_entries()
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit chain OK: 3 entries verified" in result.output


def test_orm_refuses_to_edit_an_entry():
    entry = _three_entries()[1]
    entry.action = "something.else"
    with pytest.raises(AuditLogAppendOnlyError):
        db.session.flush()


def test_database_refuses_raw_updates():
    entry = _three_entries()[1]
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(
            text("UPDATE audit_log SET action = 'x' WHERE id = :id"), {"id": entry.id}
        )


def test_verify_detects_an_edited_row(app):
    entry = _three_entries()[1]
    db.session.commit()
    # Someone with database rights switches the trigger off and rewrites history.
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    db.session.execute(
        text("UPDATE audit_log SET details = '{\"n\": 99}' WHERE id = :id"), {"id": entry.id}
    )
    db.session.commit()
    checked, breaks = verify_chain()
    assert checked == 3
    assert [(b.entry_id, b.reason) for b in breaks] == [
        (entry.id, "contents do not match the stored hash")
    ]
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {entry.id}: contents do not match" in result.output


def test_verify_detects_a_deleted_row():
    entries = _three_entries()
    db.session.commit()
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entries[1].id})
    _, breaks = verify_chain()
    assert [b.entry_id for b in breaks] == [entries[2].id]


def test_secrets_are_masked_in_details():
    masked = mask_secrets(
        {
            "iban": "DE89370400440532013000",
            "client_secret": "s3cr3t-value-xyz",
            "name": "Acme",
            "nested": {"password": "hunter2-hunter2"},
        }
    )
    assert masked["iban"] == "•••3000"
    assert masked["client_secret"] == "•••-xyz"
    assert masked["name"] == "Acme"
    assert masked["nested"]["password"] == "•••ter2"
