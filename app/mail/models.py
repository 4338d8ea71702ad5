"""The dev mailbox: in development and tests, mail is kept in this table instead of sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, UTCDateTime, utcnow


class DevMailMessage(Model):
    __tablename__ = "dev_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)

    def is_for(self, address: str) -> bool:
        return address.strip().lower() in self.recipients
