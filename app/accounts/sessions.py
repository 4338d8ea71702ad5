"""Server-side browser sessions: rotation at sign-in, idle and absolute timeouts, revocation."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import Flask, current_app, g, request, session
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.accounts.models import User, UserSession
from app.db import db, utcnow
from app.extensions import login_manager

SESSION_KEY = "sid"
# Writing last_seen on every request would make each page a write; a minute is precise enough.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User) -> UserSession:
    """Begin a fresh session: the old cookie contents are dropped and a new id is issued."""
    session.clear()
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_hash(token),
        user_id=user.id,
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:255],
    )
    db.session.add(row)
    session[SESSION_KEY] = token
    session.permanent = True
    return row


def end(reason: str = "logout") -> None:
    row = current()
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason
    session.clear()


def end_all_for(user: User, reason: str) -> int:
    """End every live session of a user (disabled account, password change)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return getattr(result, "rowcount", 0) or 0


def current() -> UserSession | None:
    """This request's session row (loaded once per request, with its user)."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    cached = g.get("_session_row")
    if cached is not None and cached[0] == token:
        return cached[1]
    row = db.session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.token_hash == _hash(token))
    )
    g._session_row = (token, row)
    return row


def _expiry_reason(row: UserSession, now: dt.datetime) -> str | None:
    cfg = current_app.config
    if row.ended_at is not None:
        return row.end_reason or "ended"
    if now - row.created_at > dt.timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"]):
        return "absolute_timeout"
    if now - row.last_seen_at > dt.timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]):
        return "idle_timeout"
    return None


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: a user only counts as signed in through a live session row."""
    row = current()
    if row is None or str(row.user_id) != user_id:
        return None
    now = utcnow()
    reason = _expiry_reason(row, now)
    if reason is None and not row.user.active:
        reason = "user_disabled"
    if reason is not None:
        if row.ended_at is None:
            # Committed by the request's edge (app.db.commit_edge), like every other write.
            row.ended_at, row.end_reason = now, reason
        session.clear()
        session["expired_reason"] = reason
        return None
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
    return row.user


def init_app(app: Flask) -> None:
    app.permanent_session_lifetime = dt.timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # our own session rows do this job


__all__ = ["end", "end_all_for", "start"]
