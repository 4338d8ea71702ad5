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
    query = select(DevMailMessage).order_by(DevMailMessage.id.desc())
    if address is None:
        return list(db.session.scalars(query.limit(limit)))
    # Recipients are a JSON list: filter while reading, newest first, so older mail to this
    # address is still found after many messages to others.
    found: list[DevMailMessage] = []
    for message in db.session.scalars(query.execution_options(yield_per=200)):
        if message.is_for(address):
            found.append(message)
            if len(found) == limit:
                break
    return found
