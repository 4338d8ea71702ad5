"""API clients, their secrets, the token signing keys and the revoked-token record."""

from __future__ import annotations

import datetime as dt
import enum

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crypto import EncryptedString
from app.db import Model, TimestampMixin, UTCDateTime, enum_column, utcnow
from app.oauth import credentials, scopes
from app.orgs.models import Organization

GRANT_TYPE = "client_credentials"


class AuthMethod(enum.StrEnum):
    """How a client proves who it is at the token endpoint (RFC 7591 names)."""

    # Names of methods, not secrets.
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105
    PRIVATE_KEY_JWT = "private_key_jwt"

    @property
    def uses_secret(self) -> bool:
        return self is not AuthMethod.PRIVATE_KEY_JWT


class ApiClient(TimestampMixin, ClientMixin, Model):
    """A program of a supplier or partner that gets tokens with client_credentials."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    auth_method: Mapped[AuthMethod] = mapped_column(enum_column(AuthMethod))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # private_key_jwt: the client's public keys, given inline or fetched from jwks_uri.
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_token_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(lazy="joined")
    secrets: Mapped[list[ClientSecret]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        # Loaded on access: the per-call client check must stay one query.
        order_by="ClientSecret.created_at",
    )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def allowed_scopes(self) -> list[str]:
        """What a token may carry now: the client's scopes still approved for its organization."""
        return scopes.effective(self.scopes, self.organization.approved_scopes or [])

    def live_secrets(self, now: dt.datetime | None = None) -> list[ClientSecret]:
        now = now or utcnow()
        return [s for s in self.secrets if s.is_live(now)]

    # authlib's ClientMixin: what the authorization server asks of a client.
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """All allowed scopes when none is asked for; None (invalid_scope) for any other."""
        allowed = self.allowed_scopes
        requested = scopes.parse(scope) if scope else allowed
        if not requested or not set(requested) <= set(allowed):
            return None
        return scopes.as_string(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.auth_method.uses_secret and any(
            credentials.secret_matches(client_secret, s.secret_hash) for s in self.live_secrets()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method.value

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE

    def __repr__(self) -> str:
        return f"<ApiClient {self.client_id} {self.name!r}>"


class ClientSecret(Model):
    """One secret of a client, stored only as a hash; at most two are live at once."""

    __tablename__ = "api_client_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    api_client_id: Mapped[int] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    client: Mapped[ApiClient] = relationship(back_populates="secrets")

    def is_live(self, now: dt.datetime) -> bool:
        return self.expires_at > now


class SigningKey(Model):
    """A key that signs access tokens; published at /.well-known/jwks.json while tokens it
    signed may still be alive."""

    __tablename__ = "oauth_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict] = mapped_column(JSON)
    # Erased once the key is no longer published: nothing may be signed with it again.
    private_jwk: Mapped[str | None] = mapped_column(EncryptedString())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    publish_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RevokedToken(Model):
    """A token revoked before its expiry; the durable copy of the Redis deny-list."""

    __tablename__ = "oauth_revoked_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    api_client_id: Mapped[int] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
