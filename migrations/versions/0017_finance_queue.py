"""finance queue: reviews (assignee, SLA clock, version), comments, corrections, questions;
the hold's version; the PO's facility on the document; indexes for the queue's sorts

Revision ID: 0017_finance_queue
Revises: 0018_number_keys
Create Date: 2026-12-03 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = '0017_finance_queue'
down_revision = '0018_number_keys'
branch_labels = None
depends_on = None


def _document_fk(table):
    return sa.ForeignKeyConstraint(
        ['document_id'], ['documents.id'], ondelete='CASCADE',
        name=op.f(f'fk_{table}_document_id_documents'),
    )


def _user_fk(table, column):
    return sa.ForeignKeyConstraint(
        [column], ['users.id'], name=op.f(f'fk_{table}_{column}_users'),
    )


def upgrade():
    op.create_table(
        'invoice_reviews',
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        _document_fk('invoice_reviews'),
        _user_fk('invoice_reviews', 'assignee_id'),
        sa.PrimaryKeyConstraint('document_id', name=op.f('pk_invoice_reviews')),
    )
    op.create_index('ix_invoice_reviews_assignee_id', 'invoice_reviews', ['assignee_id', 'document_id'])
    op.create_index('ix_invoice_reviews_due_at', 'invoice_reviews', ['due_at', 'document_id'])

    op.create_table(
        'invoice_comments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        _document_fk('invoice_comments'),
        _user_fk('invoice_comments', 'author_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_comments')),
    )
    op.create_index(op.f('ix_invoice_comments_document_id'), 'invoice_comments', ['document_id'])

    op.create_table(
        'invoice_corrections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('line', sa.String(length=64), nullable=True),
        sa.Column('before', sa.String(length=200), nullable=True),
        sa.Column('after', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        _document_fk('invoice_corrections'),
        _user_fk('invoice_corrections', 'actor_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_corrections')),
    )
    op.create_index(op.f('ix_invoice_corrections_document_id'), 'invoice_corrections', ['document_id'])

    op.create_table(
        'invoice_questions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('asked_by_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('answered_by_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        _document_fk('invoice_questions'),
        _user_fk('invoice_questions', 'asked_by_id'),
        _user_fk('invoice_questions', 'answered_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_questions')),
    )
    op.create_index(op.f('ix_invoice_questions_document_id'), 'invoice_questions', ['document_id'])

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index('ix_holds_created_at_code', ['created_at', 'code'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facility_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cost_centre', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_documents_state_facility_code', ['state', 'facility_code'], unique=False)
        batch_op.create_index('ix_documents_kind_state_created_at', ['kind', 'state', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_documents_kind_created_at', ['kind', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_documents_kind_state_total_amount', ['kind', 'state', 'total_amount', 'id'], unique=False)
        batch_op.create_index('ix_documents_kind_state_supplier', ['kind', 'state', 'supplier_org_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_kind_state_supplier')
        batch_op.drop_index('ix_documents_kind_state_total_amount')
        batch_op.drop_index('ix_documents_kind_created_at')
        batch_op.drop_index('ix_documents_kind_state_created_at')
        batch_op.drop_index('ix_documents_state_facility_code')
        batch_op.drop_column('cost_centre')
        batch_op.drop_column('facility_code')
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_created_at_code')
        batch_op.drop_column('version')
    op.drop_table('invoice_questions')
    op.drop_table('invoice_corrections')
    op.drop_table('invoice_comments')
    op.drop_table('invoice_reviews')
