"""How an accepted submission is written: the raw payload, its documents, each document's first
timeline entry and the outbox entry for its first job, all in the caller's transaction.

Intake is the portal's hot path, and on PostgreSQL every statement is a round trip that costs
both processes more than the work it carries. So on PostgreSQL the four inserts are one
statement (data-modifying CTEs); elsewhere (SQLite for `make run`) they are four. Both write the
same rows, which `tests/intake/test_storage.py` checks column by column.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, insert, text

from app.db import db, table_of
from app.documents.models import Document, DocumentEvent, DocumentState, OutboxEntry, RawPayload
from app.pipeline import Step

RECEIVED = DocumentState.RECEIVED.value

# The columns a new document brings, with their SQL types for the arrays PostgreSQL unnests.
DOCUMENT_COLUMNS: dict[str, str] = {
    "kind": "text",
    "payload_index": "integer",
    "identity": "text",
    "sender_org_id": "integer",
    "supplier_org_id": "integer",
    "client_id": "integer",
    "correlation_id": "text",
    "source_format": "text",
    "parser_version": "text",
}
PAYLOAD_COLUMNS = (
    "sha256",
    "content_type",
    "size",
    "body",
    "filename",
    "channel",
    "sender_org_id",
    "client_id",
    "user_id",
    "correlation_id",
)
TIMELINE_COLUMNS = ("actor_label", "actor_user_id", "reason")


@dataclass(frozen=True)
class NewRows:
    """What one accepted submission writes.

    `payload` has PAYLOAD_COLUMNS, each of `documents` DOCUMENT_COLUMNS, `timeline` the
    TIMELINE_COLUMNS of every document's first entry; `step` is the work owed to each new
    document (an outbox entry named by `step.job_id`), None for none.
    """

    payload: dict[str, Any]
    documents: Sequence[dict[str, Any]]
    timeline: dict[str, Any]
    step: Step | None
    now: dt.datetime

    def check_columns(self) -> None:
        expected = [
            (set(self.payload), set(PAYLOAD_COLUMNS), "payload"),
            (set(self.timeline), set(TIMELINE_COLUMNS), "timeline"),
            *((set(doc), set(DOCUMENT_COLUMNS), "document") for doc in self.documents),
        ]
        for given, wanted, what in expected:
            if given != wanted:
                raise ValueError(f"{what} columns {sorted(given ^ wanted)} are missing or unknown")


def insert_received(rows: NewRows) -> list[int]:
    """Write the submission; the new documents' ids, in the order of `rows.documents`."""
    rows.check_columns()
    if db.session.get_bind().dialect.name == "postgresql":
        return _in_one_statement(rows)
    return _statement_by_statement(rows)


# -- PostgreSQL: one statement -------------------------------------------------------------


def _in_one_statement(new: NewRows) -> list[int]:
    payload, documents, timeline, step = new.payload, new.documents, new.timeline, new.step
    params: dict[str, Any] = {
        **{f"p_{name}": _plain(payload[name]) for name in PAYLOAD_COLUMNS},
        **{f"t_{name}": timeline[name] for name in TIMELINE_COLUMNS},
        **{f"d_{name}": [_plain(doc[name]) for doc in documents] for name in DOCUMENT_COLUMNS},
        "now": new.now,
        "received": RECEIVED,
    }
    if step is not None:
        params["command"] = step.command
    rows = db.session.execute(_one_statement(step is not None), params).all()
    id_at = {payload_index: document_id for document_id, payload_index in rows}
    if len(id_at) != len(documents):
        raise RuntimeError(f"{len(documents)} documents were sent, {len(id_at)} were stored")
    return [id_at[document["payload_index"]] for document in documents]


def _plain(value: Any) -> Any:
    """Enums as their stored values (the driver would otherwise send their names)."""
    return value.value if isinstance(value, enum.Enum) else value


@functools.cache
def _one_statement(with_outbox: bool) -> TextClause:
    """Made once per process: a TextClause parses its SQL for parameters when built."""
    return text(_one_statement_sql(with_outbox))


def _one_statement_sql(with_outbox: bool) -> str:
    columns = ", ".join(PAYLOAD_COLUMNS)
    values = ", ".join(f":p_{name}" for name in PAYLOAD_COLUMNS)
    arrays = ", ".join(f"CAST(:d_{name} AS {kind}[])" for name, kind in DOCUMENT_COLUMNS.items())
    names = ", ".join(DOCUMENT_COLUMNS)
    owed = (
        """, owed AS (
        INSERT INTO outbox (document_id, command, job_id, created_at, resends)
        SELECT id, CAST(:command AS text), CAST(:command AS text) || '-' || id, :now, 0 FROM new
    )"""
        if with_outbox
        else ""
    )
    # Built only from this module's column tables; every value is a bound parameter.
    return f"""
    WITH payload AS (
        INSERT INTO raw_payloads ({columns}, received_at) VALUES ({values}, :now) RETURNING id
    ), new AS (
        INSERT INTO documents ({names}, payload_id, state, errors, created_at, updated_at)
        SELECT d.*, payload.id, :received, '[]', :now, :now
        FROM payload, unnest({arrays}) AS d({names})
        RETURNING id, payload_index
    ), timeline AS (
        INSERT INTO document_events (document_id, at, to_state, actor_label, actor_user_id,
                                     reason)
        SELECT id, :now, :received, :t_actor_label, :t_actor_user_id, :t_reason FROM new
    ){owed}
    SELECT id, payload_index FROM new
    """  # noqa: S608


# -- elsewhere: a statement per table ------------------------------------------------------


def _statement_by_statement(new: NewRows) -> list[int]:
    payload, documents, timeline, step, now = (
        new.payload,
        new.documents,
        new.timeline,
        new.step,
        new.now,
    )
    payloads = table_of(RawPayload)
    payload_id = db.session.execute(
        insert(payloads).values({**payload, "received_at": now}).returning(payloads.c.id)
    ).scalar_one()
    table = table_of(Document)
    rows = [
        {
            **document,
            "payload_id": payload_id,
            "state": RECEIVED,
            "errors": [],
            "created_at": now,
            "updated_at": now,
        }
        for document in documents
    ]
    returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = list(db.session.execute(returning, rows).scalars())
    db.session.execute(
        insert(table_of(DocumentEvent)),
        [{**timeline, "document_id": i, "at": now, "to_state": RECEIVED} for i in ids],
    )
    if step is not None:
        db.session.execute(
            insert(table_of(OutboxEntry)),
            [
                {
                    "document_id": i,
                    "command": step.command,
                    "job_id": step.job_id(i),
                    "created_at": now,
                    "resends": 0,
                }
                for i in ids
            ],
        )
    return ids
