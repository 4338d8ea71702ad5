"""The dev mailbox page: staff read what the portal would have mailed (dev and test only)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from app.accounts.access import require_role
from app.db import db
from app.mail import backend_name
from app.mail.dev import messages_for
from app.mail.models import DevMailMessage
from app.orgs.roles import Role

bp = Blueprint("mail", __name__, url_prefix="/dev/mailbox")


def _require_dev_backend() -> None:
    if backend_name() != "dev":
        abort(404, "The dev mailbox is off: mail is sent over SMTP.")


@bp.get("")
@require_role(Role.PROCUREMENT_ADMIN, Role.OPS)
def mailbox():
    _require_dev_backend()
    address = request.args.get("to", "").strip() or None
    return render_template("mail/mailbox.html", messages=messages_for(address), address=address)


@bp.get("/<int:message_id>")
@require_role(Role.PROCUREMENT_ADMIN, Role.OPS)
def message(message_id: int):
    _require_dev_backend()
    row = db.session.get(DevMailMessage, message_id) or abort(404)
    return render_template("mail/message.html", message=row)
