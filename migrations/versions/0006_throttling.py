"""throttling tiers, organization assignments, client overrides, tier requests; four seeded tiers

Revision ID: 0006_throttling
Revises: 0005_oauth
Create Date: 2026-11-24 09:00:00.000000

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_throttling'
down_revision = "0005_oauth"
branch_labels = None
depends_on = None

MIB = 1024 * 1024
# name, description, per minute, burst per second, per day, max body bytes, documents per day
SEEDED_TIERS = (
    ("Sandbox", "For building and testing an integration.", 60, 2, 2_000, 1 * MIB, 200),
    ("Standard", "The default for partners and suppliers in production.", 600, 10, 50_000, 5 * MIB, 5_000),
    ("Premium", "High-volume networks.", 1_800, 30, 250_000, 10 * MIB, 25_000),
    ("Enterprise", "The largest networks, agreed individually.", 6_000, 100, 2_000_000, 25 * MIB, 200_000),
)
DEFAULT_TIER = "Standard"


def upgrade():
    tiers = op.create_table('throttle_tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('requests_per_minute', sa.Integer(), nullable=False),
    sa.Column('burst_per_second', sa.Integer(), nullable=False),
    sa.Column('requests_per_day', sa.Integer(), nullable=False),
    sa.Column('max_body_bytes', sa.Integer(), nullable=False),
    sa.Column('documents_per_day', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('requests_per_minute > 0', name=op.f('ck_throttle_tiers_requests_per_minute_positive')),
    sa.CheckConstraint('burst_per_second > 0', name=op.f('ck_throttle_tiers_burst_per_second_positive')),
    sa.CheckConstraint('requests_per_day > 0', name=op.f('ck_throttle_tiers_requests_per_day_positive')),
    sa.CheckConstraint('max_body_bytes > 0', name=op.f('ck_throttle_tiers_max_body_bytes_positive')),
    sa.CheckConstraint('documents_per_day > 0', name=op.f('ck_throttle_tiers_documents_per_day_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_throttle_tiers')),
    sa.UniqueConstraint('name', name=op.f('uq_throttle_tiers_name'))
    )
    op.create_table('organization_tiers',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_organization_tiers_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_tiers_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['throttle_tiers.id'], name=op.f('fk_organization_tiers_tier_id_throttle_tiers')),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_organization_tiers'))
    )
    with op.batch_alter_table('organization_tiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_tiers_tier_id'), ['tier_id'], unique=False)

    op.create_table('client_tier_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_client_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_client_id'], ['api_clients.id'], name=op.f('fk_client_tier_overrides_api_client_id_api_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_client_tier_overrides_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_client_tier_overrides_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['throttle_tiers.id'], name=op.f('fk_client_tier_overrides_tier_id_throttle_tiers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_tier_overrides')),
    sa.UniqueConstraint('api_client_id', name=op.f('uq_client_tier_overrides_api_client_id'))
    )
    with op.batch_alter_table('client_tier_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_tier_overrides_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_tier_overrides_tier_id'), ['tier_id'], unique=False)

    op.create_table('tier_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('requested_tier_id', sa.Integer(), nullable=False),
    sa.Column('current_tier_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('state', sa.Enum('ON_HOLD', 'APPROVED', 'REJECTED', name='tierrequeststate', native_enum=False, length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_tier_id'], ['throttle_tiers.id'], name=op.f('fk_tier_requests_current_tier_id_throttle_tiers')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_tier_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_tier_requests_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_tier_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['requested_tier_id'], ['throttle_tiers.id'], name=op.f('fk_tier_requests_requested_tier_id_throttle_tiers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tier_requests'))
    )
    with op.batch_alter_table('tier_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tier_requests_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('uq_tier_requests_open_per_organization', ['organization_id'], unique=True, postgresql_where=sa.text("state = 'ON_HOLD'"), sqlite_where=sa.text("state = 'ON_HOLD'"))

    _seed_tiers(tiers)


def _seed_tiers(tiers):
    """The four tiers procurement admins start from (and may edit in the portal)."""
    now = dt.datetime.now(dt.timezone.utc)
    op.bulk_insert(tiers, [
        {
            "name": name, "description": description, "requests_per_minute": per_minute,
            "burst_per_second": burst, "requests_per_day": per_day, "max_body_bytes": body,
            "documents_per_day": documents, "is_default": name == DEFAULT_TIER,
            "created_at": now, "updated_at": now,
        }
        for name, description, per_minute, burst, per_day, body, documents in SEEDED_TIERS
    ])


def downgrade():
    with op.batch_alter_table('tier_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_tier_requests_open_per_organization', postgresql_where=sa.text("state = 'ON_HOLD'"), sqlite_where=sa.text("state = 'ON_HOLD'"))
        batch_op.drop_index(batch_op.f('ix_tier_requests_organization_id'))

    op.drop_table('tier_requests')
    with op.batch_alter_table('client_tier_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_tier_overrides_tier_id'))
        batch_op.drop_index(batch_op.f('ix_client_tier_overrides_organization_id'))

    op.drop_table('client_tier_overrides')
    with op.batch_alter_table('organization_tiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organization_tiers_tier_id'))

    op.drop_table('organization_tiers')
    op.drop_table('throttle_tiers')
