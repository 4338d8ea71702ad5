"""tier requests waiting for a decision are PENDING, not ON_HOLD (holds are finance's word)

Revision ID: 0008_tier_request_pending
Revises: 0007_intake
Create Date: 2026-11-25 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_tier_request_pending'
down_revision = "0007_intake"
branch_labels = None
depends_on = None

# The state column is a plain VARCHAR(32) (native_enum=False, no CHECK constraint), so only the
# stored rows and the partial unique index that names the waiting state change.
INDEX = 'uq_tier_requests_open_per_organization'


def _where(state):
    return {
        'postgresql_where': sa.text(f"state = '{state}'"),
        'sqlite_where': sa.text(f"state = '{state}'"),
    }


def _rename(old, new):
    with op.batch_alter_table('tier_requests', schema=None) as batch_op:
        batch_op.drop_index(INDEX, **_where(old))
    op.execute(sa.text("UPDATE tier_requests SET state = :new WHERE state = :old").bindparams(
        new=new, old=old))
    with op.batch_alter_table('tier_requests', schema=None) as batch_op:
        batch_op.create_index(INDEX, ['organization_id'], unique=True, **_where(new))


def upgrade():
    _rename('ON_HOLD', 'PENDING')


def downgrade():
    _rename('PENDING', 'ON_HOLD')
