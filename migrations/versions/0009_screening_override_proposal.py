"""a screening override is proposed by one procurement admin and confirmed by another

Revision ID: 0009_screening_override_proposal
Revises: 0008_tier_request_pending
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0009_screening_override_proposal'
down_revision = '0008_tier_request_pending'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('screenings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_proposed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('override_proposed_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_screenings_override_proposed_by_id_users'),
            'users',
            ['override_proposed_by_id'],
            ['id'],
        )


def downgrade():
    with op.batch_alter_table('screenings', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_screenings_override_proposed_by_id_users'), type_='foreignkey'
        )
        batch_op.drop_column('override_proposed_at')
        batch_op.drop_column('override_proposed_by_id')
