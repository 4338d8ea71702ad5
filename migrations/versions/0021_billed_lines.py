"""billed lines (cumulative billing in one query) and an index for likely duplicates

Revision ID: 0021_billed_lines
Revises: 0020_document_events_at
Create Date: 2026-12-03 18:00:00.000000

"""
import json
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = '0021_billed_lines'
down_revision = '0020_document_events_at'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'billed_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('po_line', sa.Integer(), nullable=True),
        sa.Column('quantity', sa.Numeric(precision=24, scale=6), nullable=False),
        sa.Column('amount', sa.Numeric(precision=24, scale=6), nullable=False),
        sa.ForeignKeyConstraint(
            ['document_id'], ['documents.id'], ondelete='CASCADE',
            name=op.f('fk_billed_lines_document_id_documents'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_billed_lines')),
    )
    with op.batch_alter_table('billed_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billed_lines_document_id'), ['document_id'], unique=False)
    op.bulk_insert(table, list(_existing_billing()))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(
            'ix_documents_supplier_org_id_total_amount',
            ['supplier_org_id', 'total_amount', 'issue_date'],
            unique=False,
        )


def _existing_billing():
    """The lines of every invoice already checked, as validation now writes them."""
    rows = op.get_bind().execute(sa.text(
        "SELECT id, canonical FROM documents WHERE kind = 'invoice' AND canonical IS NOT NULL"
        " AND state IN ('VALIDATED', 'ON_HOLD', 'POSTING', 'POSTED', 'PAID', 'DEAD')"
    ))
    for document_id, canonical in rows:
        invoice = json.loads(canonical) if isinstance(canonical, str) else canonical
        # As InvoiceFacts.billed_sign: a credit note takes its figures off, whether it states
        # them positive or (cXML, X12, CSV) negative.
        totals = invoice.get('totals', {})
        negative = any(Decimal(str(totals.get(k) or 0)) < 0 for k in ('payable', 'line_total'))
        sign = -1 if invoice.get('document_type') == 'credit_note' and not negative else 1
        for line in invoice.get('lines', []):
            po_line = (line.get('po_line') or '').strip()
            yield {
                'document_id': document_id,
                'po_line': int(po_line) if po_line.isdigit() else None,
                'quantity': sign * Decimal(str(line['quantity'])),
                'amount': sign * Decimal(str(line['line_extension_amount'])),
            }


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_supplier_org_id_total_amount')
    with op.batch_alter_table('billed_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billed_lines_document_id'))
    op.drop_table('billed_lines')
