"""The dev mailbox: every mail the portal sends in development and tests, on a page for staff."""

from __future__ import annotations

import socketserver
import threading

import pytest
from sqlalchemy import text as sql_text

from app import mail
from app.db import db
from tests.onboarding.helpers import post_form, text


def test_staff_read_the_mail_in_the_dev_mailbox(client, procurement):
    post_form(
        client,
        "/register",
        {
            "company_name": "Mailbox Co",
            "kind": "supplier",
            "contact_name": "M",
            "email": "m@mailbox.example",
        },
    )
    page = text(procurement.browser.get("/dev/mailbox?to=m@mailbox.example"))
    assert "Confirm your email address for the supplier portal" in page
    message_id = page.split('href="/dev/mailbox/')[1].split('"')[0]
    body = text(procurement.browser.get(f"/dev/mailbox/{message_id}"))
    assert "http://portal.test/enroll/" in body


def test_the_mailbox_is_off_when_mail_goes_over_smtp(app, procurement, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    assert procurement.browser.get("/dev/mailbox").status_code == 404


def test_smtp_backend_sends_only_after_commit(app, monkeypatch):
    from app.jobs import queue

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    with app.test_request_context():
        db.session.execute(sql_text("SELECT 1"))  # a unit of work that touched the database
        mail.send(["a@example.com"], "Rolled back", "already_registered")
        db.session.rollback()
        assert queue("default").count == 0
        mail.send(["a@example.com", "A@example.com "], "Committed", "already_registered")
        db.session.commit()
    jobs = queue("default").jobs
    assert [j.func_name for j in jobs] == ["app.mail.smtp.deliver"]
    assert jobs[0].args[0]["recipients"] == ["a@example.com"]


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 to receive one message, so the SMTP job is tested for real."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                self.server.received.append(self._message())  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif command == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")

    def _message(self) -> str:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line.decode())
        return "".join(lines)


def test_the_smtp_job_hands_the_message_to_the_server(app, monkeypatch):
    from app.mail.smtp import deliver

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for key, value in {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": server.server_address[1],
            "SMTP_STARTTLS": False,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        message = {
            "sender": "Portal <no-reply@portal.example>",
            "recipients": ["a@example.com", "b@example.com"],
            "subject": "Hello",
            "body": "Line one\n",
        }
        with app.app_context():
            deliver(message)
    finally:
        server.shutdown()
        server.server_close()
    [received] = server.received  # type: ignore[attr-defined]
    assert "Subject: Hello" in received
    assert "To: a@example.com, b@example.com" in received
    assert "Line one" in received


def test_the_smtp_job_refuses_to_run_without_a_host(app, monkeypatch):
    from app.mail.smtp import MailConfigError, deliver

    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    with app.app_context(), pytest.raises(MailConfigError):
        deliver({"sender": "x", "recipients": ["a@example.com"], "subject": "s", "body": "b"})
