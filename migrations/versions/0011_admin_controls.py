"""procurement controls: invitations can be revoked; second factors reset by two admins

Revision ID: 0011_admin_controls
Revises: 0010_audit_checkpoints
Create Date: 2026-12-01 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0011_admin_controls'
down_revision = '0010_audit_checkpoints'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'mfa_enrol_required', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        'mfa_reset_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['confirmed_by_id'], ['users.id'],
            name=op.f('fk_mfa_reset_requests_confirmed_by_id_users'),
        ),
        sa.ForeignKeyConstraint(
            ['requested_by_id'], ['users.id'],
            name=op.f('fk_mfa_reset_requests_requested_by_id_users'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], ondelete='CASCADE',
            name=op.f('fk_mfa_reset_requests_user_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_reset_requests')),
    )
    with op.batch_alter_table('mfa_reset_requests', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_mfa_reset_requests_user_id'), ['user_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('mfa_reset_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_reset_requests_user_id'))
    op.drop_table('mfa_reset_requests')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mfa_enrol_required')
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
