"""The tenant scope of a partner: the live connections it holds with suppliers. Every place that
asks "whom may this partner act for?" reads it here, so the rule is written once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.db import db
from app.orgs.models import Connection, ConnectionScope, Organization


def live_for_partner(partner_id: int) -> list[Connection]:
    """The partner's unrevoked connections, suppliers loaded, in supplier order."""
    query = (
        select(Connection)
        .options(joinedload(Connection.supplier))
        .where(Connection.partner_id == partner_id, Connection.revoked_at.is_(None))
        .order_by(Connection.supplier_id, Connection.id)
    )
    return list(db.session.scalars(query))


def acting_for(partner_id: int) -> list[Connection]:
    """Live connections to suppliers that are active: those the partner may act for now."""
    return [c for c in live_for_partner(partner_id) if c.supplier.is_active]


def suppliers_for(partner_id: int, scope: ConnectionScope) -> list[Organization]:
    """Active suppliers that let the partner do `scope` for them."""
    return [c.supplier for c in acting_for(partner_id) if c.allows(scope)]


def connection_between(partner_id: int, supplier_id: int) -> Connection | None:
    """The connection (live or revoked) between a partner and a supplier, supplier loaded."""
    return db.session.scalar(
        select(Connection)
        .options(joinedload(Connection.supplier))
        .where(Connection.partner_id == partner_id, Connection.supplier_id == supplier_id)
    )
