"""factory_boy factories, one module per domain (as Warehouse's tests/common/db/):

- `tests.factories.base`: the base factory, bound to the per-test session `app.db.db.session`.
- `tests.factories.orgs`: OrganizationFactory (traits `supplier`, `partner`, `buyer`),
  MembershipFactory, ConnectionFactory.
- `tests.factories.accounts`: UserFactory (every user's password is `PASSWORD`; `role=` adds
  the membership), `PASSWORD`.
- `tests.factories.oauth`: ApiClientFactory (clients made by the service the pages use).

Import from the module of the domain, e.g. `from tests.factories.orgs import OrganizationFactory`.
"""
