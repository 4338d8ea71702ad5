"""SMTP delivery, run as a job after the transaction that decided to send has committed."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from flask import current_app
from rq import Retry

from app.jobs import job


class MailConfigError(RuntimeError):
    pass


def _email(message: dict[str, Any]) -> EmailMessage:
    email = EmailMessage()
    email["From"] = message["sender"]
    email["To"] = ", ".join(message["recipients"])
    email["Subject"] = message["subject"]
    email.set_content(message["body"])
    return email


# A mail server that refuses for a while gets a few minutes before the mail is given up.
DELIVERY_RETRY = Retry(max=3, interval=[5, 30, 120])


@job
def deliver(message: dict[str, Any]) -> None:
    """Hand one message to the SMTP server; a failure raises so RQ retries it."""
    cfg = current_app.config
    host = cfg.get("SMTP_HOST")
    if not host:
        raise MailConfigError("MAIL_BACKEND is smtp but SMTP_HOST is not set")
    port = int(cfg.get("SMTP_PORT") or 587)
    timeout = float(cfg.get("SMTP_TIMEOUT") or 10)
    with smtplib.SMTP(host, port, timeout=timeout) as server:
        if cfg.get("SMTP_STARTTLS", True):
            server.starttls()
        if cfg.get("SMTP_USERNAME"):
            server.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        server.send_message(_email(message))
