"""Set-up shared by the benches: a supplier on a tier too wide to refuse anything, so a bench
measures the checks themselves and never the 429s."""

from __future__ import annotations

from collections.abc import Iterable

WIDE = 2_000_000_000


def unthrottled_supplier(name: str, scopes: Iterable[str]):
    """An active supplier approved for `scopes` on its own unlimited tier (added and flushed;
    the caller commits). Call inside an app context."""
    from app.db import db
    from app.orgs.models import Organization, OrgKind, OrgStatus
    from app.throttling.models import OrganizationTier, Tier

    org = Organization(
        name=name, kind=OrgKind.SUPPLIER, status=OrgStatus.ACTIVE, approved_scopes=list(scopes)
    )
    tier = Tier(
        name=name,
        requests_per_minute=WIDE,
        burst_per_second=WIDE,
        requests_per_day=WIDE,
        max_body_bytes=50_000_000,
        documents_per_day=WIDE,
    )
    db.session.add_all([org, tier, OrganizationTier(organization=org, tier=tier)])
    db.session.flush()
    return org
