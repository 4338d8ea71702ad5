"""posting: the attempts ledger, the breaker's history, reconciler runs and resends, payment on documents

Revision ID: 0015_posting
Revises: 0016_erp_links
Create Date: 2026-12-03 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_posting'
down_revision = '0016_erp_links'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'posting_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('attempt_no', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum(
            'sending', 'posted', 'rejected', 'failed', 'unknown',
            name='attemptstate', native_enum=False, length=16,
        ), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('erp_ap_invoice_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('resolved_by', sa.String(length=16), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('payment_checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'], ondelete='CASCADE',
            name=op.f('fk_posting_attempts_document_id_documents'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_posting_attempts')),
        sa.UniqueConstraint(
            'document_id', 'attempt_no', name=op.f('uq_posting_attempts_document_id_attempt_no')
        ),
    )
    op.create_index(
        op.f('ix_posting_attempts_document_id'), 'posting_attempts', ['document_id']
    )
    op.create_table(
        'breaker_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('endpoint', sa.String(length=64), nullable=False),
        sa.Column('from_state', sa.String(length=16), nullable=False),
        sa.Column('to_state', sa.String(length=16), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_breaker_events')),
    )
    op.create_index(op.f('ix_breaker_events_endpoint'), 'breaker_events', ['endpoint'])
    op.create_table(
        'reconcile_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('checked', sa.Integer(), nullable=False),
        sa.Column('requeued', sa.JSON(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reconcile_runs')),
    )
    op.create_index(op.f('ix_reconcile_runs_started_at'), 'reconcile_runs', ['started_at'])
    op.create_table(
        'reconciled_documents',
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('stuck_in', sa.String(length=16), nullable=False),
        sa.Column('resends', sa.Integer(), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'], ondelete='CASCADE',
            name=op.f('fk_reconciled_documents_document_id_documents'),
        ),
        sa.PrimaryKeyConstraint('document_id', name=op.f('pk_reconciled_documents')),
    )
    op.add_column('documents', sa.Column('paid_on', sa.Date(), nullable=True))
    op.add_column(
        'documents', sa.Column('payment_reference', sa.String(length=200), nullable=True)
    )


def downgrade():
    op.drop_column('documents', 'payment_reference')
    op.drop_column('documents', 'paid_on')
    op.drop_table('reconciled_documents')
    op.drop_index(op.f('ix_reconcile_runs_started_at'), table_name='reconcile_runs')
    op.drop_table('reconcile_runs')
    op.drop_index(op.f('ix_breaker_events_endpoint'), table_name='breaker_events')
    op.drop_table('breaker_events')
    op.drop_index(op.f('ix_posting_attempts_document_id'), table_name='posting_attempts')
    op.drop_table('posting_attempts')
