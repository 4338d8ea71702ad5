"""Users: every one shares an argon2 hash of PASSWORD (hashing is deliberately slow)."""

from __future__ import annotations

import factory

from app.accounts.models import User
from app.accounts.passwords import hash_password
from app.orgs.roles import Role
from tests.factories.base import BaseFactory
from tests.factories.orgs import MembershipFactory

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)


class UserFactory(BaseFactory):
    """An active user whose password is PASSWORD, member of one organization.

    `role=Role.X` picks the membership's role (default SUPPLIER_USER); the organization is
    `role__organization=org`, or a new one of the kind the role belongs in (MembershipFactory)."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password_hash = _PASSWORD_HASH
    active = True

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        role = extracted or Role.SUPPLIER_USER
        if kwargs.get("organization") is None:  # None: a new organization, as if not given
            kwargs.pop("organization", None)
        make = MembershipFactory.create if create else MembershipFactory.build
        return make(user=self, role=role, **kwargs)
