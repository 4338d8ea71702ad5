"""matching: holds, and the invoice number, date and credit flag validation compares

Revision ID: 0012_matching
Revises: 0011_admin_controls
Create Date: 2026-12-03 15:36:47.812012

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_matching'
down_revision = '0011_admin_controls'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Enum('PO_NOT_FOUND', 'PO_CLOSED', 'SUPPLIER_MISMATCH', 'SUPPLIER_INACTIVE', 'PRICE', 'QTY_ORDERED', 'QTY_RECEIVED', 'AMOUNT_ORDERED', 'CURRENCY', 'TAX_VARIANCE', 'TOTAL_MISMATCH', 'DUPLICATE', 'LINE_UNMATCHED', 'BANK_DETAILS', 'COST_CENTER', 'DATE', 'ERP_REJECTED', name='holdcode', native_enum=False, length=32), nullable=False),
    sa.Column('severity', sa.Enum('hold', 'reject', name='severity', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('OPEN', 'RELEASED', name='holdstatus', native_enum=False, length=16), nullable=False),
    sa.Column('finance_message', sa.Text(), nullable=False),
    sa.Column('supplier_message', sa.Text(), nullable=False),
    sa.Column('expected', sa.String(length=200), nullable=True),
    sa.Column('actual', sa.String(length=200), nullable=True),
    sa.Column('amount_at_risk', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('line', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_holds_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id'], name=op.f('fk_holds_released_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holds_document_id'), ['document_id'], unique=False)
        batch_op.create_index('ix_holds_open_code', ['status', 'code', 'document_id'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('issue_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('is_credit', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_documents_supplier_org_id_number_key', ['supplier_org_id', 'number_key'], unique=False)
        batch_op.create_index('ix_documents_supplier_org_id_po_number', ['supplier_org_id', 'po_number'], unique=False)



def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_supplier_org_id_po_number')
        batch_op.drop_index('ix_documents_supplier_org_id_number_key')
        batch_op.drop_column('is_credit')
        batch_op.drop_column('issue_date')
        batch_op.drop_column('number_key')

    with op.batch_alter_table('holds', schema=None) as batch_op:
        batch_op.drop_index('ix_holds_open_code')
        batch_op.drop_index(batch_op.f('ix_holds_document_id'))

    op.drop_table('holds')
