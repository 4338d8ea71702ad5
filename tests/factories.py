"""factory_boy factories with named variants for the portal's models."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.accounts.models import User
from app.accounts.passwords import hash_password
from app.db import db
from app.orgs.models import Membership, Organization, OrgKind, OrgStatus
from app.orgs.roles import Role

PASSWORD = "correct horse battery staple"
# Hashing is deliberately slow; every factory user shares one hash of PASSWORD.
_PASSWORD_HASH = hash_password(PASSWORD)


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - read at call time
        sqlalchemy_session_persistence = "flush"


class OrganizationFactory(_Base):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Acme Medical {n}")
    kind = OrgKind.SUPPLIER
    status = OrgStatus.ACTIVE

    class Params:
        buyer = factory.Trait(kind=OrgKind.BUYER, name=factory.Sequence(lambda n: f"Hospital {n}"))
        partner = factory.Trait(
            kind=OrgKind.PARTNER, name=factory.Sequence(lambda n: f"Network {n}")
        )


class UserFactory(_Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password_hash = _PASSWORD_HASH
    active = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role=Role.X, organization=org) adds the membership."""
        role = extracted or Role.SUPPLIER_USER
        org = kwargs.get("organization") or OrganizationFactory(
            kind=OrgKind.BUYER
            if role not in {Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}
            else (OrgKind.PARTNER if role == Role.PARTNER_ADMIN else OrgKind.SUPPLIER)
        )
        self.memberships.append(Membership(organization=org, role=role))
        db.session.flush()


def staff(role: Role, **kwargs) -> User:
    return UserFactory(role=role, **kwargs)
