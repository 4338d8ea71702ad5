"""OAuth: API clients, client secrets, token signing keys, revoked tokens

Revision ID: 0005_oauth
Revises: 0004_federation
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005_oauth"
down_revision = "0004_federation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("auth_method", sa.Enum("client_secret_basic", "client_secret_post", "private_key_jwt", name="authmethod", native_enum=False, length=32), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_uri", sa.String(length=500), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_token_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_api_clients_created_by_id_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_api_clients_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_clients_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "api_client_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_client_id"], ["api_clients.id"], name=op.f("fk_api_client_secrets_api_client_id_api_clients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client_secrets")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_client_secrets_secret_hash")),
    )
    with op.batch_alter_table("api_client_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_client_secrets_api_client_id"), ["api_client_id"], unique=False)

    op.create_table(
        "oauth_signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        # Encrypted at rest by the application (Fernet); migrations never import app code.
        sa.Column("private_jwk", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_oauth_signing_keys_kid")),
    )

    op.create_table(
        "oauth_revoked_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_client_id"], ["api_clients.id"], name=op.f("fk_oauth_revoked_tokens_api_client_id_api_clients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_revoked_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_oauth_revoked_tokens_jti")),
    )
    with op.batch_alter_table("oauth_revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_revoked_tokens_api_client_id"), ["api_client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_revoked_tokens_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("oauth_revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_oauth_revoked_tokens_api_client_id"))
    op.drop_table("oauth_revoked_tokens")
    op.drop_table("oauth_signing_keys")
    with op.batch_alter_table("api_client_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_client_secrets_api_client_id"))
    op.drop_table("api_client_secrets")
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_clients_organization_id"))
    op.drop_table("api_clients")
