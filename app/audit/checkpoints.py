"""Signed checkpoints of the audit chain's head, and the check that the log still reaches them.

The hash chain shows any edit or removal inside the log, but not the removal of its newest
entries: what is left still links up. A checkpoint signs the head (id, count, hash) with the
portal's signing key; `audit verify` then fails when the log no longer reaches the newest
checkpoint's head or reaches it with another hash. The keys are handed in by the caller (the
CLI passes the OAuth token signing keys), so this package imports nothing above it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy import func, select

from app.audit.models import AuditCheckpoint, AuditEntry
from app.db import db, utcnow

ALG = "ES256"
TYP = "audit-checkpoint+jws"


class CheckpointError(RuntimeError):
    """Nothing to checkpoint (an empty log)."""


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: int
    reason: str


def _head() -> tuple[AuditEntry | None, int]:
    head = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    count = db.session.scalar(select(func.count(AuditEntry.id))) or 0
    return head, count


def _claims(entry_id: int, entry_count: int, head_hash: str, at: str) -> dict[str, Any]:
    return {"entry_id": entry_id, "entry_count": entry_count, "head_hash": head_hash, "at": at}


def create(private_key: Any, kid: str) -> AuditCheckpoint:
    """Sign the current head with `private_key` (a joserfc EC key whose id is `kid`)."""
    head, count = _head()
    if head is None:
        raise CheckpointError("the audit log is empty; there is no head to sign")
    now = utcnow()
    claims = _claims(head.id, count, head.hash, now.isoformat())
    signature = jws.serialize_compact(
        {"alg": ALG, "kid": kid, "typ": TYP},
        json.dumps(claims, sort_keys=True, separators=(",", ":")),
        private_key,
        algorithms=[ALG],
    )
    checkpoint = AuditCheckpoint(
        created_at=now,
        entry_id=head.id,
        entry_count=count,
        head_hash=head.hash,
        kid=kid,
        signature=signature,
    )
    db.session.add(checkpoint)
    db.session.flush()
    return checkpoint


def newest() -> AuditCheckpoint | None:
    return db.session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1))


def _signed_claims(
    checkpoint: AuditCheckpoint, public_key_for: Callable[[str], Any | None]
) -> dict[str, Any] | None:
    key = public_key_for(checkpoint.kid)
    if key is None:
        return None
    try:
        signed = jws.deserialize_compact(checkpoint.signature, key, algorithms=[ALG])
        claims = json.loads(signed.payload)
    except (JoseError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def check_newest(public_key_for: Callable[[str], Any | None]) -> list[CheckpointProblem]:
    """Problems with the newest checkpoint: a signature that does not verify, or a log that no
    longer reaches (or differs at) the head it signed. No checkpoint yet: no problem."""
    checkpoint = newest()
    if checkpoint is None:
        return []
    reason = _signature_problem(checkpoint, public_key_for) or _reach_problem(checkpoint)
    return [CheckpointProblem(checkpoint.id, reason)] if reason else []


def _signature_problem(
    checkpoint: AuditCheckpoint, public_key_for: Callable[[str], Any | None]
) -> str | None:
    claims = _signed_claims(checkpoint, public_key_for)
    if claims is None:
        return f"signature does not verify with key {checkpoint.kid}"
    expected = _claims(
        checkpoint.entry_id, checkpoint.entry_count, checkpoint.head_hash, claims.get("at", "")
    )
    return None if claims == expected else "stored head differs from the signed head"


def _reach_problem(checkpoint: AuditCheckpoint) -> str | None:
    head, count = _head()
    last_id = head.id if head is not None else 0
    if last_id < checkpoint.entry_id:
        return (
            f"the log was cut: the checkpoint's head is entry {checkpoint.entry_id} "
            f"({checkpoint.entry_count} entries) but the log ends at entry {last_id} "
            f"({count} entries); entries after {last_id} were removed"
        )
    entry = db.session.get(AuditEntry, checkpoint.entry_id)
    if entry is None:
        return f"the log was cut: the checkpoint's head, entry {checkpoint.entry_id}, is gone"
    if entry.hash != checkpoint.head_hash:
        return (
            f"entry {checkpoint.entry_id} no longer has the hash the checkpoint signed "
            "(the log was rewritten up to the checkpoint's head)"
        )
    reached = db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.id <= checkpoint.entry_id)
    )
    if reached != checkpoint.entry_count:
        return (
            f"the checkpoint counted {checkpoint.entry_count} entries up to entry "
            f"{checkpoint.entry_id}; the log now has {reached}"
        )
    return None
