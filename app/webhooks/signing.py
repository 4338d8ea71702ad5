"""Standard Webhooks signatures: `whsec_` secrets and the three headers every delivery carries.

The signature is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, computed by the
`standardwebhooks` package (the reference implementation of the specification), one per
secret in force, separated by spaces while a secret rotates.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the specification gives secrets, not one
SECRET_BYTES = 32  # the specification allows 24 to 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def signature(secret: str, message_id: str, at: dt.datetime, body: str) -> str:
    return Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body)


def headers(secrets_in_force: list[str], message_id: str, at: dt.datetime, body: str) -> dict:
    """The Standard Webhooks headers of one attempt sent at `at`."""
    signed = " ".join(signature(secret, message_id, at, body) for secret in secrets_in_force)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signed,
        "Content-Type": "application/json",
        "User-Agent": "SupplierPortal-Webhooks/1",
    }
