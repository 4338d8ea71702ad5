"""A receiver that follows the Standard Webhooks specification by hand, with no library: the
signature is the base64 HMAC-SHA256, keyed with the base64-decoded `whsec_` secret, of
"id.timestamp.body", and any of the space-separated `v1,` signatures may match. The library
that signs (standardwebhooks) is not what checks it here."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

import pytest

from app.db import db
from app.webhooks import services, signing
from app.webhooks.models import WebhookEndpoint
from tests.intake.helpers import run_jobs
from tests.webhooks.conftest import endpoint_for

TOLERANCE = dt.timedelta(minutes=5)  # the specification's suggested clock tolerance


def verify_by_the_spec(
    secret: str, headers: Mapping[str, str], body: bytes, now: dt.datetime
) -> dict:
    """The payload if one `v1` signature is the HMAC of this body with `secret`; else raises."""
    lower = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp = lower["webhook-id"], lower["webhook-timestamp"]
    sent = dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
    if abs(now - sent) > TOLERANCE:
        raise ValueError("timestamp outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in lower["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise ValueError("no signature matches")


def test_the_signature_of_the_specifications_example():
    """The example the Standard Webhooks and Svix documentation give, byte for byte."""
    at = dt.datetime.fromtimestamp(1614265330, dt.UTC)
    assert (
        signing.signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            at,
            '{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_real_delivery_verifies_by_hand(receiver):
    endpoint = endpoint_for(receiver)
    delivery = services.ping(endpoint)
    db.session.commit()

    run_jobs()

    (got,) = receiver.received
    now = dt.datetime.now(dt.UTC)
    payload = verify_by_the_spec(receiver.secret, got.headers, got.body, now)
    assert payload["type"] == "webhook.test"
    assert got.headers["webhook-id"] == delivery.message_id
    with pytest.raises(ValueError, match="no signature"):
        verify_by_the_spec(signing.new_secret(), got.headers, got.body, now)
    with pytest.raises(ValueError, match="no signature"):
        verify_by_the_spec(receiver.secret, got.headers, got.body + b" ", now)
    with pytest.raises(ValueError, match="tolerance"):
        verify_by_the_spec(receiver.secret, got.headers, got.body, now + dt.timedelta(hours=1))


def test_while_a_secret_rotates_both_verify_by_hand(receiver):
    endpoint = endpoint_for(receiver)
    old = receiver.secret
    new = services.rotate_secret(db.session.get(WebhookEndpoint, endpoint.id))
    db.session.commit()
    services.ping(db.session.get(WebhookEndpoint, endpoint.id))
    db.session.commit()

    run_jobs()

    (got,) = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    now = dt.datetime.now(dt.UTC)
    for secret in (old, new):
        assert verify_by_the_spec(secret, got.headers, got.body, now)["type"] == "webhook.test"
