"""Outbound mail through one interface: SMTP in production, a "dev mailbox" table elsewhere.

Callers use ``send()``. Mail is part of the unit of work: a dev-mailbox row is written in the
caller's transaction, and an SMTP delivery is enqueued only after it commits, so a request that
rolls back never tells anyone something that did not happen.

Settings (read with ``app.config.get``): ``MAIL_BACKEND`` (``smtp`` or ``dev``; ``smtp`` in
production, ``dev`` otherwise), ``MAIL_FROM``, ``PORTAL_URL`` (links in mail sent by jobs),
``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USERNAME``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``,
``SMTP_TIMEOUT``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

DEFAULT_FROM = "Supplier Portal <no-reply@supplier-portal.example>"
DEFAULT_PORTAL_URL = "http://localhost:5000"


@dataclass(frozen=True)
class Message:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str

    def as_dict(self) -> dict[str, Any]:
        """Plain types only, so the message travels to the SMTP job in any serializer."""
        return {**asdict(self), "recipients": list(self.recipients)}


def backend_name() -> str:
    configured = current_app.config.get("MAIL_BACKEND")
    if configured:
        return str(configured)
    return "smtp" if current_app.config.get("ENV_NAME") == "production" else "dev"


def send(recipients: Iterable[str], subject: str, template: str, **context: Any) -> Message | None:
    """Render ``templates/mail/<template>.txt`` and send it to every recipient (deduplicated)."""
    unique = tuple(dict.fromkeys(r.strip().lower() for r in recipients if r and r.strip()))
    if not unique:
        return None
    message = Message(
        sender=current_app.config.get("MAIL_FROM") or DEFAULT_FROM,
        recipients=unique,
        subject=subject,
        body=_render(template, context),
    )
    _dispatch(message)
    return message


def _render(template: str, context: dict[str, Any]) -> str:
    """Render a mail body without the page context processors (jobs have no signed-in user)."""
    jinja_template = current_app.jinja_env.get_template(f"mail/{template}.txt")
    return jinja_template.render(portal_url=portal_url, **context)


def _dispatch(message: Message) -> None:
    name = backend_name()
    if name == "dev":
        from app.mail.dev import store

        store(message)
    elif name == "smtp":
        from app.jobs import enqueue_after_commit
        from app.mail.smtp import DELIVERY_RETRY, deliver

        enqueue_after_commit(deliver, message.as_dict(), queue_name="default", retry=DELIVERY_RETRY)
    else:
        raise ValueError(f"MAIL_BACKEND={name!r} is not 'smtp' or 'dev'")


def portal_url(endpoint: str, **values: Any) -> str:
    """An absolute link for a mail, also from a job where no request gives the host."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config.get("PORTAL_URL") or DEFAULT_PORTAL_URL)
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
