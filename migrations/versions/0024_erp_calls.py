"""erp_calls: every ERP call made for a document (endpoint, status, time taken, error, the
posting attempt it belongs to), for the document finder and the console's ERP figures

Revision ID: 0024_erp_calls
Revises: 0023_hold_facts
Create Date: 2026-12-04 02:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0024_erp_calls"
down_revision = "0023_hold_facts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "erp_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("attempt_no", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_calls")),
    )
    op.create_index(op.f("ix_erp_calls_at"), "erp_calls", ["at"])
    op.create_index("ix_erp_calls_document_id_at", "erp_calls", ["document_id", "at"])


def downgrade():
    op.drop_index("ix_erp_calls_document_id_at", table_name="erp_calls")
    op.drop_index(op.f("ix_erp_calls_at"), table_name="erp_calls")
    op.drop_table("erp_calls")
