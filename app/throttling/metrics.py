"""Prometheus counters for the moments throttling could not use Redis."""

from __future__ import annotations

from prometheus_client import Counter

REDIS_UNAVAILABLE = Counter(
    "portal_throttle_redis_unavailable",
    "Times a web process switched throttling to local limits because Redis did not answer.",
)
LOCAL_DECISIONS = Counter(
    "portal_throttle_local_decisions",
    "Throttling decisions a web process made alone, on its share of the limits.",
)
