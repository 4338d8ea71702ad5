"""Connections: a supplier lets a partner act for it, per document type, until it revokes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app.audit.services import record
from app.db import db, utcnow
from app.onboarding import notify
from app.onboarding.errors import OnboardingError
from app.orgs.models import Connection, ConnectionScope, Organization, OrgKind, OrgStatus


def active_partners() -> list[Organization]:
    query = (
        select(Organization)
        .where(Organization.kind == OrgKind.PARTNER, Organization.status == OrgStatus.ACTIVE)
        .order_by(Organization.name)
    )
    return list(db.session.scalars(query))


def for_supplier(supplier: Organization) -> list[Connection]:
    query = (
        select(Connection)
        .where(Connection.supplier_id == supplier.id)
        .order_by(Connection.revoked_at.is_not(None), Connection.id.desc())
    )
    return list(db.session.scalars(query))


def connection_of(supplier: Organization, connection_id: int) -> Connection | None:
    """A connection by id, only if it is this supplier's."""
    query = select(Connection).where(
        Connection.id == connection_id, Connection.supplier_id == supplier.id
    )
    return db.session.scalar(query)


def grant(
    supplier: Organization, partner: Organization, document_types: Iterable[str], *, actor
) -> Connection:
    """Authorize (or re-authorize, with a new set of document types) a partner."""
    if supplier.kind != OrgKind.SUPPLIER:
        raise OnboardingError("Only suppliers grant connections.")
    if partner.kind != OrgKind.PARTNER or partner.status != OrgStatus.ACTIVE:
        raise OnboardingError("Choose an active partner.")
    types = sorted({ConnectionScope(t).value for t in document_types})
    if not types:
        raise OnboardingError("Choose at least one document type.")
    connection = db.session.scalar(
        select(Connection).where(
            Connection.supplier_id == supplier.id, Connection.partner_id == partner.id
        )
    )
    before = _state(connection)
    if connection is None:
        connection = Connection(supplier_id=supplier.id, partner_id=partner.id)
        db.session.add(connection)
    connection.document_types, connection.revoked_at = types, None
    connection.granted_by_id = actor.id
    db.session.flush()
    record(
        "connection.granted",
        actor=actor,
        organization_id=supplier.id,
        target=connection,
        details={"partner": partner.name, "before": before, "after": _state(connection)},
    )
    _tell_both(connection, supplier, partner, "Connection granted", "connection_granted")
    return connection


def revoke(supplier: Organization, connection: Connection, *, actor) -> None:
    if connection.revoked_at is not None:
        raise OnboardingError("This connection is already revoked.")
    before = _state(connection)
    connection.revoked_at = utcnow()
    db.session.flush()
    partner = db.session.get(Organization, connection.partner_id)
    record(
        "connection.revoked",
        actor=actor,
        organization_id=supplier.id,
        target=connection,
        details={
            "partner": partner.name if partner else None,
            "before": before,
            "after": _state(connection),
        },
    )
    if partner is not None:
        _tell_both(connection, supplier, partner, "Connection revoked", "connection_revoked")


def _state(connection: Connection | None) -> dict[str, object]:
    if connection is None:
        return {}
    return {"document_types": list(connection.document_types), "live": connection.is_live}


def _tell_both(connection, supplier, partner, subject: str, template: str) -> None:
    for org in (supplier, partner):
        notify.tell_org(
            org,
            f"{subject}: {supplier.name} and {partner.name}",
            template,
            supplier=supplier,
            partner=partner,
            connection=connection,
        )
