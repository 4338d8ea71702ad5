"""invoice number keys recomputed: each group's zero padding goes before the punctuation does

Revision ID: 0018_number_keys
Revises: 0015_posting
Create Date: 2026-12-03 18:15:00.000000

A data migration: `matching.duplicates.normalize_number` now strips a group's leading zeros
before it removes the punctuation (`A7-0042` is `A742`, as `A7-42` is); keys stored with the
old rule would not match new ones. The rule is copied here, as it is today, so this migration
keeps meaning what it meant whatever the app's code becomes.
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0018_number_keys'
down_revision = '0015_posting'
branch_labels = None
depends_on = None

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def _new_key(number):
    return _NOT_ALNUM.sub("", _LEADING_ZEROS.sub("", number.upper()))[:200]


def _old_key(number):
    return _LEADING_ZEROS.sub("", _NOT_ALNUM.sub("", number.upper()))[:200]


def _rekey(key_of):
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, document_number FROM documents"
        " WHERE number_key IS NOT NULL AND document_number IS NOT NULL"
    )).all()
    for document_id, number in rows:
        bind.execute(
            sa.text("UPDATE documents SET number_key = :key WHERE id = :id"),
            {"key": key_of(number), "id": document_id},
        )


def upgrade():
    _rekey(_new_key)


def downgrade():
    _rekey(_old_key)
