"""Throttling tiers protect the ERP and the portal from any one API client: per-tier limits
counted in Redis, standard rate-limit headers, body-size caps, and tier requests.

Other packages use: `charge_documents(api_client, n)` (intake), `too_many_requests(decision)`,
and two hooks OAuth finds without importing this package (which builds on OAuth clients):
`require_token`'s at `app.extensions["throttle_hook"]` and the token endpoint's
`limit_token_endpoint(client_id, ip)` at `app.extensions["token_endpoint_limit"]`.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.throttling.enforcement import (
    Throttling,
    add_rate_limit_headers,
    charge_documents,
    clear_tier_caches,
    limit_token_endpoint,
    throttle_hook,
    too_many_requests,
)

__all__ = [
    "charge_documents",
    "init_app",
    "limit_token_endpoint",
    "throttle_hook",
    "too_many_requests",
]


def _clear_caches_after_tier_change(session: Session) -> None:
    from app.throttling.services import CHANGED_FLAG

    if session.info.pop(CHANGED_FLAG, False):
        clear_tier_caches()


def _forget_tier_change(session: Session, previous_transaction) -> None:
    from app.throttling.services import CHANGED_FLAG

    session.info.pop(CHANGED_FLAG, None)


def init_app(app: Flask) -> None:
    app.extensions["throttling"] = Throttling(app)
    app.extensions["throttle_hook"] = throttle_hook
    app.extensions["token_endpoint_limit"] = limit_token_endpoint
    app.after_request(add_rate_limit_headers)
    if not event.contains(Session, "after_commit", _clear_caches_after_tier_change):
        event.listen(Session, "after_commit", _clear_caches_after_tier_change)
        event.listen(Session, "after_soft_rollback", _forget_tier_change)
