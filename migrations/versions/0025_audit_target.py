"""audit_log indexed by target: the finance invoice page reads one invoice's audit entries into
its whole timeline

Revision ID: 0025_audit_target
Revises: 0024_erp_calls
Create Date: 2026-12-04 02:20:00.000000

"""

from alembic import op

revision = "0025_audit_target"
down_revision = "0024_erp_calls"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_audit_log_target_type_target_id", "audit_log", ["target_type", "target_id", "id"]
    )


def downgrade():
    op.drop_index("ix_audit_log_target_type_target_id", table_name="audit_log")
