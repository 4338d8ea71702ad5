"""erp links: whether a bank account has reached the ERP's vendor record, and the cursor of
the ERP event feed the portal follows (goods receipts)

Revision ID: 0016_erp_links
Revises: 0019_webhooks
Create Date: 2026-12-03 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_erp_links'
down_revision = '0019_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erp_synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erp_sync_error', sa.Text(), nullable=True))
    op.create_table('erp_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_erp_cursors'))
    )


def downgrade():
    op.drop_table('erp_cursors')
    with op.batch_alter_table('bank_accounts', schema=None) as batch_op:
        batch_op.drop_column('erp_sync_error')
        batch_op.drop_column('erp_synced_at')
