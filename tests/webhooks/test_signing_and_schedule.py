"""Signatures a Standard Webhooks receiver accepts, rotation overlap, and the retry schedule."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from functools import partial
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.webhooks import schedule, signing
from app.webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.no_db
NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
BODY = '{"type":"invoice.paid","timestamp":"2026-12-03T12:00:00Z","data":{"document_id":7}}'


def test_a_new_secret_is_whsec_and_base64_of_32_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32
    assert signing.new_secret() != secret


def test_the_reference_receiver_accepts_our_headers():
    secret = signing.new_secret()
    now = dt.datetime.now(dt.UTC)
    headers = signing.headers([secret], "msg_1", now, BODY)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["data"]["document_id"] == 7
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("7", "8"), headers)


def test_while_rotating_both_secrets_sign_then_only_the_new_one():
    old, new = signing.new_secret(), signing.new_secret()
    # The endpoint's own rule, on a plain object: this test needs no database.
    endpoint = SimpleNamespace(
        secret=new, previous_secret=old, previous_secret_expires_at=NOW + dt.timedelta(hours=24)
    )
    endpoint.signing_secrets = partial(WebhookEndpoint.signing_secrets, endpoint)
    during = dt.datetime.now(dt.UTC)
    signing_now = endpoint.signing_secrets(NOW + dt.timedelta(hours=23))
    headers = signing.headers(signing_now, "msg_2", during, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)  # a receiver not yet switched
    Webhook(new).verify(BODY, headers)  # a receiver already switched

    after = signing.headers(
        endpoint.signing_secrets(NOW + dt.timedelta(hours=24)), "m", during, BODY
    )
    assert len(after["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(BODY, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, after)


@pytest.mark.parametrize("attempt", range(1, 15))
def test_each_backoff_stays_within_its_jitter_bounds(attempt):
    base = schedule.BACKOFF[min(attempt, len(schedule.BACKOFF)) - 1]
    for seed in range(50):
        rng = random.Random(seed)  # noqa: S311 - seeded jitter
        delay = schedule.backoff(attempt, rng).total_seconds()
        assert base * 0.8 <= delay <= base * 1.2


def _attempt_times(rng: random.Random, asked: dt.timedelta | None = None) -> list[dt.datetime]:
    """Every attempt of a message whose endpoint never answers well."""
    times, attempt, retry_until = [NOW], 1, NOW + schedule.RETRY_WINDOW
    while (when := schedule.next_attempt(attempt, times[-1], retry_until, asked, rng)) is not None:
        times.append(when)
        attempt += 1
    return times


@pytest.mark.parametrize("seed", range(20))
def test_retries_go_on_for_about_three_days_and_never_beyond(seed):
    times = _attempt_times(random.Random(seed))  # noqa: S311 - seeded jitter
    assert times[-1] <= NOW + dt.timedelta(days=3)
    assert times[-1] >= NOW + dt.timedelta(days=3) - dt.timedelta(hours=12)
    assert 8 <= len(times) <= 16
    assert times[1] - times[0] <= dt.timedelta(seconds=6)  # the first retry comes quickly
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= dt.timedelta(hours=12)


def test_retry_after_is_honoured_in_seconds_or_as_a_date_and_bounded():
    assert schedule.retry_after("120", NOW) == dt.timedelta(seconds=120)
    assert schedule.retry_after("Thu, 03 Dec 2026 12:10:00 GMT", NOW) == dt.timedelta(minutes=10)
    assert schedule.retry_after("999999999", NOW) == schedule.MAX_RETRY_AFTER
    assert schedule.retry_after("soon", NOW) is None
    assert schedule.retry_after(None, NOW) is None
    when = schedule.next_attempt(1, NOW, NOW + schedule.RETRY_WINDOW, dt.timedelta(hours=1))
    assert when == NOW + dt.timedelta(hours=1)  # longer than the 5 s backoff: the receiver wins


def test_no_retry_is_planned_past_the_window():
    assert schedule.next_attempt(3, NOW, NOW + dt.timedelta(minutes=10)) is None
