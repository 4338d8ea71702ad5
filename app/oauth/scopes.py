"""The API scopes a client may hold, in one canonical order (pure: no Flask, no session)."""

from __future__ import annotations

from collections.abc import Iterable

SCOPES = (
    "invoices:write",
    "invoices:read",
    "acknowledgments:write",
    "purchase-orders:read",
    "documents:read",
    "webhooks:manage",
)

# What a supplier's own API clients get unless the approver trims it: all but webhooks, which
# are for partners' platforms.
SUPPLIER_DEFAULT_SCOPES = tuple(scope for scope in SCOPES if scope != "webhooks:manage")

SCOPE_DESCRIPTIONS = {
    "invoices:write": "Send invoices",
    "invoices:read": "Read invoices and their states",
    "acknowledgments:write": "Send purchase order acknowledgments",
    "purchase-orders:read": "Read purchase orders",
    "documents:read": "Read sent documents, their errors and timelines",
    "webhooks:manage": "Manage webhook subscriptions",
}


def parse(scope: str | None) -> list[str]:
    """A space-separated scope string (RFC 6749 §3.3) as a list, duplicates dropped."""
    return canonical((scope or "").split())


def canonical(scopes: Iterable[str]) -> list[str]:
    """Known scopes first in SCOPES order, then unknown ones sorted, each once."""
    unique = set(scopes)
    known = [s for s in SCOPES if s in unique]
    return known + sorted(unique - set(SCOPES))


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - set(SCOPES))


def effective(*grants: Iterable[str]) -> list[str]:
    """The scopes present in every grant (token, client, organization approval)."""
    sets = [set(g) for g in grants]
    common = set.intersection(*sets) if sets else set()
    return canonical(common)


def as_string(scopes: Iterable[str]) -> str:
    return " ".join(canonical(scopes))
