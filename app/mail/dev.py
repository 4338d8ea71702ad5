"""The dev mailbox backend: each message becomes a row, in the sender's transaction."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.mail import Message
from app.mail.models import DevMailMessage


def store(message: Message) -> DevMailMessage:
    row = DevMailMessage(
        sender=message.sender,
        recipients=list(message.recipients),
        subject=message.subject,
        body=message.body,
    )
    db.session.add(row)
    db.session.flush()
    return row


def messages_for(address: str | None = None, limit: int = 200) -> list[DevMailMessage]:
    """Newest first; only those addressed to `address` when given."""
    query = select(DevMailMessage).order_by(DevMailMessage.id.desc()).limit(limit)
    rows = db.session.scalars(query).all()
    return [m for m in rows if address is None or m.is_for(address)]
