"""The audit viewer's filters and how an entry reads: details as fields, targets by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from app.audit.models import AuditEntry

PAGE_SIZE = 50
# Entries written before `record` unwrapped proxies name `current_user` by its proxy's class;
# every such call site passed the signed-in user.
LEGACY_TYPES = {"LocalProxy": "User"}
# What a target type is called on the page.
TARGET_NAMES = {
    "Document": "Document",
    "User": "User",
    "Organization": "Organization",
    "ApiClient": "API client",
    "SigningKey": "Signing key",
}


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    target: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        before = args.get("before", "")
        return cls(
            actor=args.get("actor", "").strip(),
            action=args.get("action", "").strip(),
            target=args.get("target", "").strip(),
            since=_moment(args.get("since", "")),
            until=_moment(args.get("until", "")),
            before=int(before) if before.isdigit() else None,
        )

    def as_args(self) -> dict[str, str]:
        values = {
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "since": self.since.strftime("%Y-%m-%dT%H:%M") if self.since else "",
            "until": self.until.strftime("%Y-%m-%dT%H:%M") if self.until else "",
        }
        return {name: value for name, value in values.items() if value}


def _moment(text: str) -> dt.datetime | None:
    """A `datetime-local` (or date) field, read as UTC; anything unreadable is no filter."""
    try:
        return dt.datetime.fromisoformat(text.strip()).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def target_filter(text: str) -> tuple[str | None, str | None]:
    """`Document 5` → type and id; `Document` → type; `5` → id."""
    kind, _, ident = text.partition(" ")
    if kind.isdigit() and not ident:
        return None, kind
    types = {name.lower(): type_ for type_, name in TARGET_NAMES.items()}
    type_ = types.get(kind.lower(), kind)
    return type_, ident.strip() or None


def query(filters: AuditFilters) -> Select:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)
    if filters.before:
        q = q.where(AuditEntry.id < filters.before)
    if filters.actor:
        q = q.where(AuditEntry.actor_label.icontains(filters.actor, autoescape=True))
    if filters.action:
        q = q.where(AuditEntry.action.startswith(filters.action, autoescape=True))
    if filters.target:
        q = _by_target(q, *target_filter(filters.target))
    if filters.since:
        q = q.where(AuditEntry.at >= filters.since)
    if filters.until:
        q = q.where(AuditEntry.at <= filters.until)
    return q


def _by_target(q: Select, type_: str | None, ident: str | None) -> Select:
    if type_:
        legacy = [old for old, new in LEGACY_TYPES.items() if new == type_]
        q = q.where(AuditEntry.target_type.in_([type_, *legacy]))
    if ident:
        q = q.where(AuditEntry.target_id == ident)
    return q


def target_name(entry: AuditEntry) -> str:
    """`Document 5`, `User 3`: the kind of thing, then its id."""
    if not entry.target_type:
        return ""
    type_ = LEGACY_TYPES.get(entry.target_type, entry.target_type)
    name = TARGET_NAMES.get(type_, type_)
    return f"{name} {entry.target_id}" if entry.target_id else name


def target_type(entry: AuditEntry) -> str | None:
    return LEGACY_TYPES.get(entry.target_type or "", entry.target_type)


def fields(details: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Details as (label, text) pairs: nested objects as `a.b`, lists joined, None as —."""
    for key, value in details.items():
        label = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from fields(value, label + ".")
        else:
            yield label, _text(value)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "—"
    return str(value)
