"""document_events.at indexed: the ops console reads the last hour's and day's timeline entries

Revision ID: 0020_document_events_at
Revises: 0014_tolerance_templates
Create Date: 2026-12-03 17:30:00.000000

"""
from alembic import op


revision = '0020_document_events_at'
down_revision = '0014_tolerance_templates'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_document_events_at', 'document_events', ['at'], unique=False)


def downgrade():
    op.drop_index('ix_document_events_at', table_name='document_events')
