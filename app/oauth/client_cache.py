"""Each process's copies ("snapshots") of API clients with their organization, so that the token
check of a known client sends no SQL.

A snapshot is used only while it is younger than OAUTH_CLIENT_CACHE_SECONDS and was loaded under
the current *epoch*: a random value in Redis that every committed change to a client or an
organization replaces (client_changes.py). The token check reads the epoch in the deny-list's
round trip, so revoking a client, suspending an organization or narrowing scopes refuses the very
next call in every process. When Redis has lost the epoch (flushed, restarted empty) a fresh one
is set, which no snapshot can match. The age limit bounds what a lost epoch change can cost.
The token check leaves the epoch on `g.shared_epoch` for other per-process copies kept the same
way: the webhook subscriptions intake owes events to (`app.webhooks.events`), whose changes
move the epoch too.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import secrets
import time
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import JSON, inspect
from sqlalchemy.orm import ColumnProperty, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.db import db
from app.jobs import redis_connection
from app.oauth import settings
from app.oauth.lru import LruCache
from app.oauth.models import ApiClient
from app.orgs.models import Organization

EPOCH_KEY = "oauth:clients:epoch"
EXTENSION = "oauth_client_cache"
MAX_ENTRIES = 4096
# What a snapshot copies; client_changes.py moves the epoch when one of these changes.
SNAPSHOT_TYPES = (ApiClient, Organization)
# Set in session.info (by client_changes.py) while the session holds an uncommitted change to one.
UNCOMMITTED_CHANGE = "oauth_client_change_uncommitted"

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A detached client with its organization loaded, and the epoch and time it was loaded."""

    client: ApiClient
    epoch: bytes
    loaded_at: float  # time.monotonic()
    identities: tuple[Any, ...]  # identity keys of the client and its organization


def install(app: Flask) -> None:
    """Give `app` its cache; without one every check loads the client (as with max age 0)."""
    app.extensions.setdefault(EXTENSION, LruCache[str, Snapshot](MAX_ENTRIES))


def _cache() -> LruCache[str, Snapshot] | None:
    return current_app.extensions.get(EXTENSION)


def new_epoch() -> str:
    """Random rather than a counter: a counter started again from zero could meet old snapshots."""
    return secrets.token_hex(16)


def epoch_in_force(seen: bytes | None) -> bytes:
    """The epoch as read with the deny-list. When Redis has none, a fresh one is set (NX, so all
    processes agree on it) and returned: no snapshot was loaded under it, so all are stale."""
    if seen is not None:
        return seen
    pipe = redis_connection().pipeline(transaction=False)
    pipe.set(EPOCH_KEY, new_epoch(), nx=True)
    pipe.get(EPOCH_KEY)
    _, epoch = pipe.execute()
    return epoch


def invalidate() -> None:
    """Make every process's snapshots stale: this one's at once, the others' at their next call,
    when they read the new epoch. Raises redis.RedisError when Redis cannot take the new epoch."""
    forget_all()
    redis_connection().set(EPOCH_KEY, new_epoch())


def forget_all() -> None:
    cache = _cache()
    if cache is not None:
        cache.clear()


def cached(client_id: str, epoch: bytes) -> ApiClient | None:
    """The client from this process's snapshot, in the request's session, when the snapshot is
    current for `epoch` and young enough; None when the caller must load it."""
    cache = _cache()
    max_age = settings.client_cache_seconds()
    if cache is None or max_age <= 0:
        return None
    snapshot = cache.get(client_id)
    if (
        snapshot is None
        or snapshot.epoch != epoch
        or time.monotonic() - snapshot.loaded_at >= max_age
    ):
        return None
    return _attach(snapshot)


def _attach(snapshot: Snapshot) -> ApiClient | None:
    """A session-bound copy of the snapshot, whose changes flush and whose other relationships
    load as usual. A session that already holds the client or its organization keeps its own
    objects (they may carry changes a merge would overwrite): None, and the caller queries."""
    session = db.session()
    if any(key in session.identity_map for key in snapshot.identities):
        return None
    client = session.merge(snapshot.client, load=False)
    _unshare(client)
    _unshare(client.organization)
    return client


def session_may_snapshot() -> bool:
    """Whether the next load of a client in this session shows what the database holds: the session
    holds no client or organization yet (a query would hand back those objects, which may be older
    than the epoch just read) and no uncommitted change to one."""
    session = db.session()
    if session.info.get(UNCOMMITTED_CHANGE):
        return False
    return not any(isinstance(obj, SNAPSHOT_TYPES) for obj in session.identity_map.values())


def remember(client: ApiClient, epoch: bytes) -> None:
    """Keep a detached copy of `client` (just loaded, in a session session_may_snapshot allowed)
    for the next calls under `epoch`."""
    cache = _cache()
    if cache is None or settings.client_cache_seconds() <= 0:
        return
    if db.session.info.get(UNCOMMITTED_CHANGE):  # the load flushed one
        return
    cache.put(client.client_id, _snapshot(client, epoch, time.monotonic()))


def note_used(client_id: str, used_at: dt.datetime | None) -> None:
    """Tell this process's snapshot when the client's last call was recorded, so the next calls
    see it and do not write it again (last_used_at does not move the epoch). Snapshots are shared
    by threads, so the entry is replaced rather than changed."""
    cache = _cache()
    snapshot = cache.get(client_id) if cache is not None else None
    if cache is None or snapshot is None:
        return
    renewed = _snapshot(snapshot.client, snapshot.epoch, snapshot.loaded_at)
    set_committed_value(renewed.client, "last_used_at", used_at)
    cache.put(client_id, renewed)


def _snapshot(client: ApiClient, epoch: bytes, loaded_at: float) -> Snapshot:
    snapshot_client = _detached_copy(client)
    organization = _detached_copy(client.organization)
    set_committed_value(snapshot_client, "organization", organization)
    identities: tuple[Any, ...] = (inspect(snapshot_client).key, inspect(organization).key)
    return Snapshot(snapshot_client, epoch, loaded_at, identities)


def _detached_copy(obj: T) -> T:
    """A copy of a loaded object's columns that no session holds and that has nothing to flush,
    so session.merge(load=False) accepts it."""
    mapper = inspect(obj).mapper
    duplicate = mapper.class_manager.new_instance()
    for key in _column_keys(obj):
        set_committed_value(duplicate, key, _copied(getattr(obj, key)))
    make_transient_to_detached(duplicate)
    return duplicate


def _unshare(obj: object) -> None:
    """merge() hands the snapshot's own JSON lists and dicts to the session's object; copy them,
    so code changing one in place cannot change the snapshot."""
    state = vars(obj)
    for key in _json_keys(type(obj)):
        if state.get(key) is not None:
            set_committed_value(obj, key, _copied(state[key]))


def _copied(value: T) -> T:
    """JSON columns hold lists and dicts; everything else a column holds is immutable."""
    return copy.deepcopy(value) if isinstance(value, list | dict) else value


def _column_keys(obj: object) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


_JSON_KEYS: dict[type, tuple[str, ...]] = {}


def _json_keys(cls: type) -> tuple[str, ...]:
    """The columns of `cls` that hold mutable JSON values (found once per class)."""
    keys = _JSON_KEYS.get(cls)
    if keys is None:
        columns: list[ColumnProperty[Any]] = list(inspect(cls).column_attrs)
        keys = _JSON_KEYS[cls] = tuple(
            attr.key for attr in columns if isinstance(attr.columns[0].type, JSON)
        )
    return keys
