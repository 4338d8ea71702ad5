"""document intake: raw payloads, documents, timeline, outbox, idempotency keys

Revision ID: 0007_intake
Revises: 0006_throttling
Create Date: 2026-11-24 07:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_intake'
down_revision = "0006_throttling"
branch_labels = None
depends_on = None

STATES = ('RECEIVED', 'NORMALIZED', 'VALIDATED', 'ON_HOLD', 'POSTING', 'POSTED', 'PAID',
          'APPLIED', 'REJECTED', 'DEAD')


def _state(name):
    return sa.Enum(*STATES, name=name, native_enum=False, length=16)


def upgrade():
    op.create_table('raw_payloads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('channel', sa.Enum('api', 'upload', 'po_flip', name='channel', native_enum=False, length=16), nullable=False),
    sa.Column('sender_org_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sender_org_id'], ['organizations.id'], name=op.f('fk_raw_payloads_sender_org_id_organizations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_raw_payloads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_payloads'))
    )
    with op.batch_alter_table('raw_payloads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_payloads_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_payloads_sender_org_id'), ['sender_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_payloads_sha256'), ['sha256'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('invoice', 'acknowledgment', name='documentkind', native_enum=False, length=16), nullable=False),
    sa.Column('state', _state('documentstate'), nullable=False),
    sa.Column('payload_id', sa.Integer(), nullable=False),
    sa.Column('payload_index', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=200), nullable=False),
    sa.Column('sender_org_id', sa.Integer(), nullable=False),
    sa.Column('supplier_org_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('source_format', sa.String(length=16), nullable=False),
    sa.Column('parser_version', sa.String(length=32), nullable=True),
    sa.Column('document_number', sa.String(length=200), nullable=True),
    sa.Column('po_number', sa.String(length=200), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('total_amount', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('canonical', sa.JSON(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payload_id'], ['raw_payloads.id'], name=op.f('fk_documents_payload_id_raw_payloads')),
    sa.ForeignKeyConstraint(['sender_org_id'], ['organizations.id'], name=op.f('fk_documents_sender_org_id_organizations')),
    sa.ForeignKeyConstraint(['supplier_org_id'], ['organizations.id'], name=op.f('fk_documents_supplier_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_payload_id'), ['payload_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_state'), ['state'], unique=False)
        batch_op.create_index('ix_documents_sender_org_id_updated_at', ['sender_org_id', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_documents_supplier_org_id_updated_at', ['supplier_org_id', 'updated_at', 'id'], unique=False)

    op.create_table('document_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_state', _state('documentstate'), nullable=True),
    sa.Column('to_state', _state('documentstate'), nullable=False),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_document_events_actor_user_id_users')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_events_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_events'))
    )
    with op.batch_alter_table('document_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_events_document_id'), ['document_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resends', sa.Integer(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_outbox_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_document_id'), ['document_id'], unique=False)
        batch_op.create_index('ix_outbox_open', ['created_at'], unique=False,
                              postgresql_where=sa.text('completed_at IS NULL'),
                              sqlite_where=sa.text('completed_at IS NULL'))

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.JSON(), nullable=False),
    sa.Column('response_headers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('client_id', 'key', name=op.f('uq_idempotency_keys_client_id_key'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_expires_at'), ['expires_at'], unique=False)


def downgrade():
    op.drop_table('idempotency_keys')
    op.drop_table('outbox')
    op.drop_table('document_events')
    op.drop_table('documents')
    op.drop_table('raw_payloads')
