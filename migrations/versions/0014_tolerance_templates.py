"""tolerance templates: the global one (seeded with the strict defaults) and supplier overrides

Revision ID: 0014_tolerance_templates
Revises: 0013_break_glass
Create Date: 2026-12-10 10:00:00.000000

"""
import datetime as dt
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


revision = '0014_tolerance_templates'
down_revision = '0013_break_glass'
branch_labels = None
depends_on = None

LIMITS = (
    'price_percent', 'price_amount', 'quantity_percent', 'received_percent',
    'amount_percent', 'amount_amount', 'tax_amount', 'total_amount',
)


def upgrade():
    table = op.create_table(
        'tolerance_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        *(sa.Column(name, sa.Numeric(precision=12, scale=4), nullable=True) for name in LIMITS),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'], ondelete='CASCADE',
            name=op.f('fk_tolerance_templates_organization_id_organizations'),
        ),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['users.id'],
            name=op.f('fk_tolerance_templates_updated_by_id_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tolerance_templates')),
        # NULL is the global template: one global, one per supplier.
        sa.UniqueConstraint(
            'organization_id', name=op.f('uq_tolerance_templates_organization_id'),
            postgresql_nulls_not_distinct=True,
        ),
    )
    # The global template with the defaults validation used until now (Tolerance()).
    op.bulk_insert(table, [{
        'name': 'Global',
        'price_percent': Decimal('0'),
        'price_amount': None,
        'quantity_percent': Decimal('0'),
        'received_percent': Decimal('0'),
        'amount_percent': Decimal('0'),
        'amount_amount': None,
        'tax_amount': Decimal('0.01'),
        'total_amount': Decimal('0.01'),
        'organization_id': None,
        'updated_at': dt.datetime.now(dt.timezone.utc),
        'updated_by_id': None,
    }])


def downgrade():
    op.drop_table('tolerance_templates')
