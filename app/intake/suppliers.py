"""Which portal supplier a document names, for a partner that did not say whom it sends for.

A document may name its supplier by portal id, by our ERP vendor number, or by tax id. The
portal id and vendor number are looked up directly; a tax id is encrypted at rest, so it is
compared only against the suppliers connected to the sending partner (a short list).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from app import routing
from app.db import db
from app.formats import SupplierRef
from app.onboarding.models import Profile
from app.orgs.models import Organization
from app.orgs.scope import live_for_partner

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def compact_tax_id(value: str) -> str:
    """`de 123-456.789` → `DE123456789`: tax ids are written with any punctuation."""
    return _NOT_ALNUM.sub("", value.upper())


def named_supplier_id(party: SupplierRef, partner_id: int) -> int | None:
    """The organization id the document names as its supplier, or None if it names none we
    know (the caller then needs the On-Behalf-Of header)."""
    # Only an id an id column can hold names an organization; anything else ("²", a number
    # past 2**31) names none, as if the document said nothing.
    if (portal_id := routing.parse_id(party.portal_id)) is not None:
        return portal_id
    if party.erp_vendor_number:
        found = db.session.scalar(
            select(Organization.id).where(Organization.erp_vendor_number == party.erp_vendor_number)
        )
        if found is not None:
            return found
    return _by_tax_id(party, partner_id)


def _by_tax_id(party: SupplierRef, partner_id: int) -> int | None:
    wanted = {compact_tax_id(tax_id) for tax_id in party.tax_ids}
    if not wanted:
        return None
    connected = [connection.supplier_id for connection in live_for_partner(partner_id)]
    rows = db.session.execute(
        select(Profile.organization_id, Profile.tax_id).where(
            Profile.organization_id.in_(connected)
        )
    )
    for supplier_id, tax_id in rows:
        if tax_id and compact_tax_id(tax_id) in wanted:
            return supplier_id
    return None
