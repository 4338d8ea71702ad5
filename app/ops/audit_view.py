"""The audit viewer's filters and how an entry reads: details as fields, targets by name."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import g
from sqlalchemy import Select, select

from app.audit.models import AuditEntry
from app.db import Base, db

PAGE_SIZE = 50
# Entries written before `record` unwrapped proxies name `current_user` by its proxy's class;
# every such call site passed the signed-in user.
LEGACY_TYPES = {"LocalProxy": "User"}
# What a target type is called on the page, where its class name does not read well as words
# (any other `CamelCase` class reads as "Camel case").
TARGET_NAMES = {
    "ApiClient": "API client",
    "ClientTierOverride": "Client tier override",
}


@dataclass(frozen=True)
class Readable:
    """How to name one kind of target beside its id: a column to read and how to show it."""

    column: str
    show: Callable[[Any], str] = str


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _document(row: Any) -> str:
    return " ".join(part for part in (row.kind.value, row.document_number) if part)


# Targets with a name people know them by: read for a whole page at once (one query a type).
READABLE: dict[str, Readable] = {
    "User": Readable("email"),
    "Organization": Readable("name"),
    "Document": Readable("*", _document),  # "invoice INV-1": the whole row
    "WebhookEndpoint": Readable("url", _host),
    "ApiClient": Readable("name"),
    "IdentityProvider": Readable("name"),
    "SigningKey": Readable("kid"),
    "Tier": Readable("name"),
    "ToleranceTemplate": Readable("name"),
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
    """`Document 5` → type and id; `Document` → type; `5` → id; `Webhook endpoint 7` too."""
    words = text.split()
    if len(words) == 1 and words[0].isdigit():
        return None, words[0]
    for size in range(len(words), 0, -1):  # the longest kind named first: "Webhook endpoint"
        kind = " ".join(words[:size]).lower()
        type_ = _types_by_name().get(kind)
        if type_ is not None:
            return type_, " ".join(words[size:]) or None
    return (words[0] if words else None), " ".join(words[1:]) or None


def _types_by_name() -> dict[str, str]:
    """Every model's name as the page writes it (and its class name) → its class name."""
    names = {}
    for type_ in _models():
        names[type_.lower()] = type_
        names[kind_name(type_).lower()] = type_
    return names


def _models() -> dict[str, Any]:
    return {mapper.class_.__name__: mapper.class_ for mapper in Base.registry.mappers}


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


def kind_name(type_: str) -> str:
    """`WebhookEndpoint` → "Webhook endpoint": what a target is, in words."""
    if type_ in TARGET_NAMES:
        return TARGET_NAMES[type_]
    words = re.findall(r"[A-Z][a-z0-9]*", type_)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else type_


def target_name(entry: AuditEntry) -> str:
    """`Webhook endpoint 7 · hooks.example.com`, `User 3 · ann@…`: what the target is, its id,
    and the name people know it by when it has one (and still exists)."""
    type_ = target_type(entry)
    if not type_:
        return ""
    shown = f"{kind_name(type_)} {entry.target_id}" if entry.target_id else kind_name(type_)
    readable = _readable_names().get((type_, entry.target_id or ""))
    return f"{shown} · {readable}" if readable else shown


def _readable_names() -> dict[tuple[str, str], str]:
    """The readable names of the targets of every audit entry loaded in this request: the
    page's entries are in the session, so each kind of target costs one query per page."""
    known: dict[tuple[str, str], str] = g.setdefault("audit_target_names", {})
    wanted: dict[str, set[str]] = defaultdict(set)
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, AuditEntry) and loaded.target_id:
            type_ = target_type(loaded) or ""
            if type_ in READABLE and (type_, loaded.target_id) not in known:
                wanted[type_].add(loaded.target_id)
    for type_, ids in wanted.items():
        known.update(_names_of(type_, ids))
        known.update({(type_, ident): "" for ident in ids if (type_, ident) not in known})
    return known


def _names_of(type_: str, ids: set[str]) -> dict[tuple[str, str], str]:
    model, readable = _models().get(type_), READABLE[type_]
    numbers = [int(ident) for ident in ids if ident.isdigit()]
    if model is None or not numbers:
        return {}
    rows: list[Any] = list(db.session.scalars(select(model).where(model.id.in_(numbers))))
    if readable.column == "*":
        return {(type_, str(row.id)): readable.show(row) for row in rows}
    return {(type_, str(row.id)): readable.show(getattr(row, readable.column)) for row in rows}


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
