"""Writing to the audit log and verifying its hash chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import select

from app.audit.models import GENESIS_HASH, AuditEntry
from app.db import advisory_xact_lock, db, utcnow

SECRET_MARKERS = ("password", "secret", "iban", "account_number", "token", "tax_id", "key")
# Any fixed number works; it only has to be the same in every process.
CHAIN_LOCK_ID = 7_400_001


def mask_secrets(details: dict[str, Any]) -> dict[str, Any]:
    """Replace values whose key looks secret with a mask showing the last 4 characters."""
    masked: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, dict):
            masked[key] = mask_secrets(value)
        elif any(marker in key.lower() for marker in SECRET_MARKERS) and value:
            masked[key] = "•••" + str(value)[-4:] if len(str(value)) > 8 else "•••"
        else:
            masked[key] = value
    return masked


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.astimezone(dt.UTC).isoformat(),
        "actor_user_id": entry.actor_user_id,
        "actor_label": entry.actor_label,
        "organization_id": entry.organization_id,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip_address": entry.ip_address,
        "correlation_id": entry.correlation_id,
        "details": entry.details,
    }


def _lock_chain() -> None:
    """Serialize appends across processes so two writers never fork the chain."""
    advisory_xact_lock(CHAIN_LOCK_ID)


def _last_hash() -> str:
    last = db.session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return last or GENESIS_HASH


def _request_context() -> tuple[str | None, str | None]:
    if not has_request_context():
        return None, g.get("correlation_id") if g else None
    return request.remote_addr, g.get("correlation_id")


def _unproxied(value: Any) -> Any:
    """The object behind a werkzeug proxy such as `current_user`: its own class names the
    target ("User"), where the proxy's would say "LocalProxy"."""
    unwrap = getattr(value, "_get_current_object", None)
    return unwrap() if callable(unwrap) else value


def record(
    action: str,
    *,
    actor: Any = None,
    actor_label: str | None = None,
    organization_id: int | None = None,
    target: Any = None,
    target_type: str | None = None,
    target_id: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry in the current unit of work (the caller commits)."""
    actor, target = _unproxied(actor), _unproxied(target)
    _lock_chain()
    ip_address, correlation_id = _request_context()
    if target is not None:
        target_type = target_type or type(target).__name__
        target_id = target_id if target_id is not None else getattr(target, "id", None)
    entry = AuditEntry(
        at=utcnow(),
        actor_user_id=getattr(actor, "id", None),
        actor_label=actor_label or getattr(actor, "email", None) or "system",
        organization_id=organization_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip_address=ip_address,
        correlation_id=correlation_id,
        details=mask_secrets(details or {}),
    )
    entry.prev_hash = _last_hash()
    entry.hash = entry_hash(entry.prev_hash, _hashed_fields(entry))
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    reason: str


def verify_chain(batch_size: int = 1000) -> tuple[int, list[ChainBreak]]:
    """Recompute every hash in order; return the number of entries checked and the breaks."""
    expected_prev = GENESIS_HASH
    checked = 0
    breaks: list[ChainBreak] = []
    for entry in _entries_in_order(batch_size):
        checked += 1
        if entry.prev_hash != expected_prev:
            breaks.append(ChainBreak(entry.id, "previous hash does not match the entry before"))
        if entry_hash(entry.prev_hash, _hashed_fields(entry)) != entry.hash:
            breaks.append(ChainBreak(entry.id, "contents do not match the stored hash"))
        expected_prev = entry.hash
    return checked, breaks


def _entries_in_order(batch_size: int) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        batch = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
