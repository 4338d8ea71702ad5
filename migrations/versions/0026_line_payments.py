"""holds: a disputed line booked on its own is followed to its payment (the date and reference
payment sync found in the ERP, and when it last asked), with an index of the lines still unpaid

Revision ID: 0026_line_payments
Revises: 0025_audit_target
Create Date: 2026-12-04 02:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0026_line_payments"
down_revision = "0025_audit_target"
branch_labels = None
depends_on = None

DUE = "followup = 'posted' AND followup_paid_on IS NULL"


def upgrade():
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followup_paid_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("followup_payment_reference", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("followup_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_holds_line_payment_due",
            ["followup_checked_at"],
            postgresql_where=sa.text(DUE),
            sqlite_where=sa.text(DUE),
        )


def downgrade():
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_line_payment_due")
        batch_op.drop_column("followup_checked_at")
        batch_op.drop_column("followup_payment_reference")
        batch_op.drop_column("followup_paid_on")
