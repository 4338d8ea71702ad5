"""The single call site of the daily documents quota, charged once per accepted payload.

The quota belongs to the throttling package; intake only says how many documents a payload
holds, before anything is stored, and turns a refusal into the throttling package's own 429.
"""

from __future__ import annotations

from flask import abort

from app.oauth.models import ApiClient
from app.throttling import charge_documents, too_many_requests


def charge_daily_quota(api_client: ApiClient, documents: int) -> None:
    """Take `documents` from the client's daily documents quota, or abort with 429."""
    decision = charge_documents(api_client, documents)
    if not decision.allowed:
        abort(too_many_requests(decision))
