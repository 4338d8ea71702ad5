"""The dev mailbox finds an address's older mail however much was sent to others since."""

from __future__ import annotations

from app.mail import Message
from app.mail.dev import messages_for, store


def _send(to: str, subject: str) -> None:
    store(Message(sender="portal@example.com", recipients=(to,), subject=subject, body="."))


def test_filtering_by_address_looks_past_the_newest_messages():
    _send("ana@acme.example", "your invitation")
    for n in range(5):
        _send("someone@else.example", f"other {n}")
    found = messages_for("ana@acme.example", limit=2)
    assert [m.subject for m in found] == ["your invitation"]
    assert len(messages_for(limit=2)) == 2
