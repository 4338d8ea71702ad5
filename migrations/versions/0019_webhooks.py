"""webhooks: endpoints (encrypted whsec_ secrets, rotation overlap), deliveries (the outbox
written with each event) and their attempts

Revision ID: 0019_webhooks
Revises: 0021_billed_lines
Create Date: 2026-12-03 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0019_webhooks'
down_revision = '0021_billed_lines'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('event_types', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.String(length=300), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('secret', sa.String(length=512), nullable=False),
        sa.Column('previous_secret', sa.String(length=512), nullable=True),
        sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_endpoints_organization_id_organizations'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    op.create_index(
        op.f('ix_webhook_endpoints_organization_id'), 'webhook_endpoints', ['organization_id']
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=False),
        sa.Column('event_type', sa.String(length=64), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'delivered', 'failed', name='deliverystatus', native_enum=False,
                    length=32),
            nullable=False,
        ),
        sa.Column('attempt_count', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retry_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'),
        ),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_deliveries_organization_id_organizations'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('message_id', name=op.f('uq_webhook_deliveries_message_id')),
    )
    op.create_index(
        'ix_webhook_deliveries_due', 'webhook_deliveries', ['status', 'next_attempt_at']
    )
    op.create_index(
        'ix_webhook_deliveries_endpoint_created', 'webhook_deliveries',
        ['endpoint_id', 'created_at'],
    )
    op.create_index(
        op.f('ix_webhook_deliveries_organization_id'), 'webhook_deliveries', ['organization_id']
    )
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('response_excerpt', sa.String(length=500), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE',
            name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    op.create_index(
        op.f('ix_webhook_attempts_delivery_id'), 'webhook_attempts', ['delivery_id']
    )


def downgrade():
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_endpoints')
