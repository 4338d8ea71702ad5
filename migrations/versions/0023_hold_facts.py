"""holds: the fingerprint of the facts a hold stands on (a person's release suppresses only the
same facts), who a hold passes after correction by (four eyes), and a disputed line withheld
from posting and posted later once accepted

Revision ID: 0023_hold_facts
Revises: 0022_webhook_correlation
Create Date: 2026-12-04 02:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

revision = "0023_hold_facts"
down_revision = "0022_webhook_correlation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("corrected_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withheld_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("followup", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("followup_ap_invoice_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_holds_corrected_by_id_users"), "users", ["corrected_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_holds_corrected_by_id_users"), type_="foreignkey")
        batch_op.drop_column("followup_ap_invoice_id")
        batch_op.drop_column("followup")
        batch_op.drop_column("withheld_key")
        batch_op.drop_column("corrected_by_id")
        batch_op.drop_column("fingerprint")
