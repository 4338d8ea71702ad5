"""break-glass: named admins who may sign in with password and MFA where SSO is required

Revision ID: 0013_break_glass
Revises: 0012_matching
Create Date: 2026-12-03 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_break_glass'
down_revision = '0012_matching'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'break_glass_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('granted_by_id', sa.Integer(), nullable=True),
        sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['granted_by_id'], ['users.id'],
            name=op.f('fk_break_glass_accounts_granted_by_id_users'),
        ),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'],
            name=op.f('fk_break_glass_accounts_organization_id_organizations'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], ondelete='CASCADE',
            name=op.f('fk_break_glass_accounts_user_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_break_glass_accounts')),
        sa.UniqueConstraint('user_id', name=op.f('uq_break_glass_accounts_user_id')),
    )
    with op.batch_alter_table('break_glass_accounts', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_break_glass_accounts_organization_id'), ['organization_id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('break_glass_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_break_glass_accounts_organization_id'))
    op.drop_table('break_glass_accounts')
