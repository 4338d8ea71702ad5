"""Organizations, their memberships, and partner-supplier connections."""

from __future__ import annotations

import factory

from app.oauth import scopes
from app.orgs.models import (
    Connection,
    ConnectionScope,
    Membership,
    Organization,
    OrgKind,
    OrgStatus,
)
from app.orgs.roles import PARTNER_ROLES, SUPPLIER_ROLES, Role
from tests.factories.base import BaseFactory

ALL_SCOPES = list(scopes.SCOPES)


def _all_scopes() -> list[str]:
    return list(ALL_SCOPES)


class OrganizationFactory(BaseFactory):
    """An active supplier without approved API scopes, unless a trait or argument says otherwise.

    Traits: `supplier=True` (active supplier approved for every API scope), `partner=True`
    (active partner approved for every API scope), `buyer=True` (the hospital: staff live here).
    """

    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Acme Medical {n}")
    kind = OrgKind.SUPPLIER
    status = OrgStatus.ACTIVE

    class Params:
        supplier = factory.Trait(
            kind=OrgKind.SUPPLIER,
            status=OrgStatus.ACTIVE,
            approved_scopes=factory.LazyFunction(_all_scopes),
        )
        partner = factory.Trait(
            kind=OrgKind.PARTNER,
            status=OrgStatus.ACTIVE,
            name=factory.Sequence(lambda n: f"Network {n}"),
            approved_scopes=factory.LazyFunction(_all_scopes),
        )
        buyer = factory.Trait(kind=OrgKind.BUYER, name=factory.Sequence(lambda n: f"Hospital {n}"))


def kind_for(role: Role) -> OrgKind:
    """The kind of organization a role belongs in."""
    if role in SUPPLIER_ROLES:
        return OrgKind.SUPPLIER
    if role in PARTNER_ROLES:
        return OrgKind.PARTNER
    return OrgKind.BUYER


class MembershipFactory(BaseFactory):
    """A user's role in an organization; the organization defaults to a new one of the kind the
    role belongs in. `user` is required (UserFactory(role=...) is the usual way in)."""

    class Meta:
        model = Membership

    role = Role.SUPPLIER_USER
    organization = factory.SubFactory(
        OrganizationFactory, kind=factory.LazyAttribute(lambda o: kind_for(o.factory_parent.role))
    )


class ConnectionFactory(BaseFactory):
    """A partner's connection to a supplier, for every document type unless `scopes=` names some."""

    class Meta:
        model = Connection

    class Params:
        scopes: tuple[ConnectionScope, ...] = ()

    partner = factory.SubFactory(OrganizationFactory, partner=True)
    supplier = factory.SubFactory(OrganizationFactory, supplier=True)
    document_types = factory.LazyAttribute(
        lambda o: [t.value for t in (o.scopes or ConnectionScope)]
    )
