"""Committed changes to API clients and organizations move the client cache's epoch, so every
process's snapshot of them (client_cache.py) is stale at its next token check.

A change is noted when it is flushed, or sent as an ORM-enabled bulk INSERT / UPDATE / DELETE,
and announced right after the commit; a rollback forgets it. Touching only last_used_at,
last_token_at (and the updated_at that follows them) announces nothing: the check reads neither.
Listeners are on the Session class, so web requests, RQ jobs and CLI commands all announce.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

import structlog
from flask import Flask, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from app.oauth import client_cache
from app.oauth.client_cache import SNAPSHOT_TYPES, UNCOMMITTED_CHANGE

NOT_READ_BY_THE_CHECK = frozenset({"last_used_at", "last_token_at", "updated_at"})
SNAPSHOT_TABLES = frozenset(cls.__tablename__ for cls in SNAPSHOT_TYPES)
log = structlog.get_logger(__name__)


def init_app(app: Flask) -> None:
    """Listen to every session of the process (once per process), and give `app` its cache."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
    client_cache.install(app)


def _note_flushed_changes(session: Session, flush_context: Any) -> None:
    """after_flush: new, deleted and dirty objects and their history still show the flush."""
    if session.info.get(UNCOMMITTED_CHANGE):
        return
    added_or_deleted = chain(session.new, session.deleted)
    if any(isinstance(obj, SNAPSHOT_TYPES) for obj in added_or_deleted) or any(
        _columns_changed(obj) for obj in session.dirty if isinstance(obj, SNAPSHOT_TYPES)
    ):
        session.info[UNCOMMITTED_CHANGE] = True


def note_change(session: Session) -> None:
    """A change the shared epoch also covers, which these listeners do not watch (a webhook
    endpoint: `app.webhooks.events`): announced with the commit, forgotten on a rollback."""
    session.info[UNCOMMITTED_CHANGE] = True


def _columns_changed(obj: object) -> bool:
    """A column the token check reads was given a new value (relationships are other rows)."""
    state = inspect(obj)
    return any(
        state.attrs[attr.key].history.has_changes()
        for attr in state.mapper.column_attrs
        if attr.key not in NOT_READ_BY_THE_CHECK
    )


def _note_bulk_statements(orm_execute_state: ORMExecuteState) -> None:
    """do_orm_execute: UPDATE / DELETE / INSERT statements sent through the session bypass the
    flush; any of them on the two tables counts as a change."""
    if not (
        orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert
    ):
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if getattr(table, "name", None) in SNAPSHOT_TABLES:
        orm_execute_state.session.info[UNCOMMITTED_CHANGE] = True


def _announce_after_commit(session: Session) -> None:
    """after_commit also runs when a savepoint is released; only the outer commit announces."""
    if session.in_nested_transaction() or not session.info.pop(UNCOMMITTED_CHANGE, False):
        return
    if not has_app_context():
        log.error("client change committed outside an app context; client cache epoch not moved")
        return
    try:
        client_cache.invalidate()
    except Exception:
        # The change is committed; never fail the unit of work. The max age bounds the staleness.
        log.exception(
            "client cache epoch not moved; other processes may keep using their snapshots of "
            "clients for up to OAUTH_CLIENT_CACHE_SECONDS"
        )


def _forget_when_transaction_ends(session: Session, transaction: SessionTransaction) -> None:
    """Rolled back or closed without a commit: nothing was changed (a commit announced already)."""
    if transaction.parent is None:
        session.info.pop(UNCOMMITTED_CHANGE, None)


_LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_flush", _note_flushed_changes),
    ("do_orm_execute", _note_bulk_statements),
    ("after_commit", _announce_after_commit),
    ("after_transaction_end", _forget_when_transaction_ends),
)
