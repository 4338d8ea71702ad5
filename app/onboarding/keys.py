"""Key rotation: re-encrypt every EncryptedString column with the newest ENCRYPTION_KEYS key.

Columns are found in the metadata, so encrypted columns added by any package are included.
Tokens are read and written raw: values never pass through Python as plaintext objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Column, RowMapping, String, Table, literal, select, type_coerce, update

from app import crypto
from app.db import db

BATCH = 500


def encrypted_columns() -> Iterator[tuple[Table, list[Column]]]:
    """Each table with encrypted columns (single-column primary keys, as all ours have)."""
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, crypto.EncryptedString)]
        if columns and len(table.primary_key.columns) == 1:
            yield table, columns


def _rotated(row: RowMapping, columns: list[Column]) -> dict[Column, Any]:
    """New tokens for the row's non-empty values, typed as plain strings (no re-encryption)."""
    return {c: literal(crypto.rotate(row[c.name]), String()) for c in columns if row[c.name]}


def _batches(table: Table, columns: list[Column]) -> Iterator[Sequence[RowMapping]]:
    pk = next(iter(table.primary_key.columns))
    raw = [type_coerce(c, String()).label(c.name) for c in columns]
    last = None
    while True:
        query = select(pk.label("_pk"), *raw).order_by(pk).limit(BATCH)
        rows = (
            db.session.execute(query if last is None else query.where(pk > last)).mappings().all()
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["_pk"]


def rotate_table(table: Table, columns: list[Column]) -> int:
    pk = next(iter(table.primary_key.columns))
    rewritten = 0
    for rows in _batches(table, columns):
        for row in rows:
            if values := _rotated(row, columns):
                db.session.execute(update(table).where(pk == row["_pk"]).values(values))
                rewritten += len(values)
    return rewritten


def rotate_all() -> dict[str, int]:
    """Re-encrypt every value with the newest key; returns the number rewritten per table."""
    return {table.name: rotate_table(table, columns) for table, columns in encrypted_columns()}
