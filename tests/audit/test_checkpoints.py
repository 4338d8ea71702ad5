"""`flask audit checkpoint` signs the chain's head; `audit verify` then notices a cut-off tail."""

from __future__ import annotations

from sqlalchemy import select, text

from app.audit import checkpoints
from app.audit.models import AuditCheckpoint, AuditEntry
from app.audit.services import record
from app.db import db
from app.oauth import keys


def _entries(n: int) -> list[AuditEntry]:
    return [record("test.event", actor_label="tester", details={"n": i}) for i in range(n)]


def _checkpoint(app) -> AuditCheckpoint:
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "signed with key" in result.output
    return db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _cut_after(entry_id: int) -> None:
    """Someone with database rights switches the trigger off and drops the newest rows."""
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    db.session.execute(text("DELETE FROM audit_log WHERE id > :id"), {"id": entry_id})
    db.session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    db.session.commit()


def test_checkpoint_signs_the_head_with_the_current_signing_key(app):
    _entries(3)
    db.session.commit()
    made = _checkpoint(app)
    head = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    # The checkpoint's own audit entry is the head it signs.
    assert head.action == "audit.checkpoint"
    assert (made.entry_id, made.head_hash) == (head.id, head.hash)
    assert made.kid == keys.current_kid()
    assert checkpoints.check_newest(keys.known_public_key) == []
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert f"checkpoint {made.id} at entry {made.entry_id} holds" in result.output


def test_more_entries_after_a_checkpoint_are_fine(app):
    _entries(2)
    db.session.commit()
    _checkpoint(app)
    _entries(2)
    db.session.commit()
    assert _verify(app).exit_code == 0


def test_verify_fails_when_the_newest_rows_were_cut_off(app):
    entries = _entries(3)
    db.session.commit()
    made = _checkpoint(app)
    _entries(1)
    db.session.commit()
    # Cut the checkpoint's head and everything after it: the rest of the chain still links up.
    _cut_after(entries[-1].id)
    assert db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == (
        entries[-1].id
    )
    result = _verify(app)
    assert result.exit_code == 1
    assert f"checkpoint {made.id}: the log was cut" in result.output
    assert f"the checkpoint's head is entry {made.entry_id}" in result.output
    assert f"the log ends at entry {entries[-1].id}" in result.output
    assert "audit chain BROKEN" in result.output


def test_verify_fails_when_the_head_was_rewritten(app):
    _entries(2)
    db.session.commit()
    made = _checkpoint(app)
    db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    db.session.execute(
        text("UPDATE audit_log SET hash = :h WHERE id = :id"), {"h": "f" * 64, "id": made.entry_id}
    )
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"entry {made.entry_id} no longer has the hash the checkpoint signed" in result.output


def test_a_forged_checkpoint_does_not_verify(app):
    _entries(2)
    db.session.commit()
    made = _checkpoint(app)
    # Moving the checkpoint back to match a shortened log breaks its signature.
    db.session.execute(
        text("UPDATE audit_checkpoints SET entry_id = entry_id - 1 WHERE id = :id"),
        {"id": made.id},
    )
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"checkpoint {made.id}: stored head differs from the signed head" in result.output


def test_a_checkpoint_still_verifies_after_its_key_was_rotated(app):
    _entries(1)
    db.session.commit()
    _checkpoint(app)
    keys.rotate()
    db.session.commit()
    assert _verify(app).exit_code == 0


def test_an_empty_log_has_nothing_to_checkpoint(app):
    assert checkpoints.newest() is None
    assert checkpoints.check_newest(keys.known_public_key) == []
