"""create_client's rules, and the pure pieces: scopes and credentials."""

from __future__ import annotations

import pytest

from app.oauth import credentials, scopes, services
from app.orgs.models import OrgStatus
from tests.factories.orgs import OrganizationFactory
from tests.oauth.helpers import ec_key, public_jwks


def test_scopes_keep_one_canonical_order():
    assert scopes.parse("documents:read  invoices:write documents:read") == [
        "invoices:write",
        "documents:read",
    ]
    assert scopes.effective(["invoices:write", "documents:read"], ["documents:read"]) == [
        "documents:read"
    ]
    assert scopes.unknown(["invoices:write", "admin"]) == ["admin"]


def test_secrets_are_random_prefixed_and_hashed():
    first, second = credentials.new_secret(), credentials.new_secret()
    assert first != second
    assert first.startswith("cs_")
    assert len(first) >= 43  # 256 random bits
    digest = credentials.hash_secret(first)
    assert len(digest) == 64
    assert first not in digest
    assert credentials.secret_matches(first, digest)
    assert not credentials.secret_matches(second, digest)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": []}, "at least one scope"),
        ({"scopes": ["admin"]}, "unknown scopes: admin"),
        ({"name": "  "}, "name of 1 to 100"),
        ({"auth_method": "none"}, "auth method must be one of"),
        ({"jwks": {"keys": []}}, "only used with private_key_jwt"),
        ({"auth_method": "private_key_jwt"}, "either a JWKS or a jwks_uri"),
        ({"auth_method": "private_key_jwt", "jwks_uri": "ftp://x"}, "absolute https or http"),
        (
            {"auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
            "only RSA and EC",
        ),
    ],
)
def test_create_client_refuses_bad_requests(kwargs, message):
    org = OrganizationFactory(supplier=True)
    args = {"name": "ERP", "scopes": ["invoices:write"], **kwargs}
    with pytest.raises(services.ClientError, match=message):
        services.create_client(org, args.pop("name"), args.pop("scopes"), **args)


def test_only_active_suppliers_and_partners_get_clients():
    buyer = OrganizationFactory(buyer=True, approved_scopes=["invoices:read"])
    with pytest.raises(services.ClientError, match="only supplier and partner"):
        services.create_client(buyer, "ERP", ["invoices:read"])
    pending = OrganizationFactory(supplier=True, status=OrgStatus.SUBMITTED)
    with pytest.raises(services.ClientError, match="only active organizations"):
        services.create_client(pending, "ERP", ["invoices:read"])


def test_a_new_secret_expires_and_a_jwt_client_has_none():
    client, secret = services.create_client(
        OrganizationFactory(supplier=True), "ERP", ["invoices:write"]
    )
    (stored,) = client.secrets
    assert stored.hint == secret[-4:]
    assert 364 <= (stored.expires_at - stored.created_at).days <= 365
    jwt_client, no_secret = services.create_client(
        OrganizationFactory(supplier=True),
        "ERP",
        ["invoices:write"],
        "private_key_jwt",
        jwks=public_jwks(ec_key()),
    )
    assert no_secret is None
    assert jwt_client.secrets == []


def test_rotation_audit_keeps_the_old_expiry_and_hint_readable():
    import datetime as dt

    from sqlalchemy import select

    from app.audit.models import AuditEntry
    from app.db import db

    client, _ = services.create_client(
        OrganizationFactory(supplier=True), "rotating", ["invoices:write"]
    )
    services.rotate_secret(client, old_secret_lifetime=dt.timedelta(days=1))
    entry = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.like("oauth.client.secret%"))
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None
    detail_values = [v for v in entry.details.values() if isinstance(v, (str, list))]
    assert not any(isinstance(v, str) and v.startswith("•••") for v in detail_values), entry.details


def test_a_jwks_uri_on_an_internal_address_is_not_fetched(app, monkeypatch):
    """The jwks_uri is typed by a partner: the outbound guard refuses internal addresses."""
    from app.oauth.client_keys import ClientKeyError, fetch_jwks

    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_PRIVATE", False)
    with app.app_context(), pytest.raises(ClientKeyError, match="OutboundRefusedError"):
        fetch_jwks("https://169.254.169.254/latest/meta-data/jwks.json")
