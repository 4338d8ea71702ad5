"""API clients, made by the service the pages and the CLI use (so secrets and keys are real)."""

from __future__ import annotations

import factory

from app.db import db
from app.oauth import services
from app.oauth.models import ApiClient
from tests.factories.orgs import OrganizationFactory


class ApiClientFactory(factory.Factory):
    """`ApiClientFactory(organization=org, auth_method=..., scopes=[...])` returns the client,
    its one-time secret on `.secret` (None for private_key_jwt). Scopes default to everything
    the organization is approved for. Committed, so a live server sees it (the commit only
    releases a savepoint of the test's transaction)."""

    class Meta:
        model = ApiClient

    organization = factory.SubFactory(OrganizationFactory, supplier=True)
    name = "Test client"
    scopes = factory.LazyAttribute(lambda o: o.organization.approved_scopes)
    auth_method = "client_secret_basic"

    @classmethod
    def _create(cls, model_class, organization, name, scopes, auth_method, **kwargs):
        client, secret = services.create_client(
            organization, name, scopes, auth_method=auth_method, **kwargs
        )
        db.session.commit()
        client.secret = secret
        return client

    _build = _create
