"""webhook_deliveries.correlation_id: the id of the change that owed the message, logged by
every attempt (also one the sweep sends again after Redis lost its job)

Revision ID: 0022_webhook_correlation
Revises: 0017_finance_queue
Create Date: 2026-12-03 18:40:00.000000

"""
import sqlalchemy as sa
from alembic import op


revision = '0022_webhook_correlation'
down_revision = '0017_finance_queue'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correlation_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('correlation_id')
