"""The intake write: one statement on PostgreSQL, one per table elsewhere, the same rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.documents import storage
from app.documents.models import (
    Channel,
    Document,
    DocumentEvent,
    DocumentKind,
    OutboxEntry,
    RawPayload,
)
from app.pipeline import STEPS_BY_COMMAND
from tests.factories.orgs import OrganizationFactory

NORMALIZE = STEPS_BY_COMMAND["normalize"]


def _submission(sender_id: int, supplier_ids: list[int | None]):
    payload = {
        "sha256": "ab" * 32,
        "content_type": "text/csv",
        "size": 11,
        "body": b"a,b\n1,2\n3,4",
        "filename": "march.csv",
        "channel": Channel.UPLOAD,
        "sender_org_id": sender_id,
        "client_id": None,
        "user_id": None,
        "correlation_id": "c-1",
    }
    documents = [
        {
            "kind": DocumentKind.INVOICE,
            "payload_index": index,
            "identity": f"INV-{index}",
            "sender_org_id": sender_id,
            "supplier_org_id": supplier_id,
            "client_id": 7,
            "correlation_id": "c-1",
            "source_format": "csv",
            "parser_version": "csv-1.0.0",
        }
        for index, supplier_id in zip([2, 0, 1], supplier_ids, strict=True)
    ]
    timeline = {"actor_label": "api client x", "actor_user_id": None, "reason": "received"}
    return payload, documents, timeline


def _written(ids: list[int]) -> list[dict]:
    """Everything written for these documents, without the generated ids."""
    documents = [db.session.get(Document, document_id) for document_id in ids]
    payload = db.session.get(RawPayload, documents[0].payload_id)
    rows = []
    for document in documents:
        events = db.session.scalars(
            select(DocumentEvent).where(DocumentEvent.document_id == document.id)
        ).all()
        owed = db.session.scalars(
            select(OutboxEntry).where(OutboxEntry.document_id == document.id)
        ).all()
        rows.append(
            {
                "payload": _columns(payload, skip={"id"}),
                "document": _columns(document, skip={"id", "payload_id"}),
                "timeline": [_columns(e, skip={"id", "document_id"}) for e in events],
                "outbox": [_columns(o, skip={"id", "document_id", "job_id"}) for o in owed],
                "job_ids": [o.job_id for o in owed],
            }
        )
    return rows


def _columns(row, skip: set[str]) -> dict:
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key not in skip
    }


def test_both_ways_write_the_same_rows_and_name_jobs_as_the_pipeline_does():
    sender, other = OrganizationFactory(supplier=True), OrganizationFactory(supplier=True)
    payload, documents, timeline = _submission(sender.id, [sender.id, other.id, None])
    now = utcnow()

    new = storage.NewRows(payload, documents, timeline, NORMALIZE, now)
    in_one = storage._in_one_statement(new)
    by_table = storage._statement_by_statement(new)
    db.session.expire_all()

    one, other_way = _written(in_one), _written(by_table)
    assert [row["job_ids"] for row in one] == [[NORMALIZE.job_id(i)] for i in in_one]
    assert [row["job_ids"] for row in other_way] == [[NORMALIZE.job_id(i)] for i in by_table]
    for row in (*one, *other_way):
        del row["job_ids"]
    assert one == other_way
    # Ids come back in the order the documents were given, whatever their payload_index.
    assert [row["document"]["payload_index"] for row in one] == [2, 0, 1]
    assert one[0]["document"]["state"].value == "RECEIVED"
    assert one[0]["timeline"][0]["to_state"].value == "RECEIVED"
    assert one[0]["payload"]["body"] == b"a,b\n1,2\n3,4"


def test_without_a_step_nothing_is_owed():
    sender = OrganizationFactory(supplier=True)
    payload, documents, timeline = _submission(sender.id, [sender.id] * 3)
    ids = storage.insert_received(storage.NewRows(payload, documents, timeline, None, utcnow()))
    owed = db.session.scalars(select(OutboxEntry).where(OutboxEntry.document_id.in_(ids)))
    assert len(ids) == 3
    assert owed.all() == []


def test_a_missing_or_unknown_column_is_refused_before_anything_is_written():
    sender = OrganizationFactory(supplier=True)
    payload, documents, timeline = _submission(sender.id, [sender.id] * 3)
    del documents[1]["identity"]
    missing = storage.NewRows(payload, documents, timeline, NORMALIZE, utcnow())
    unknown = storage.NewRows({**payload, "colour": "red"}, [], timeline, NORMALIZE, utcnow())
    with pytest.raises(ValueError, match="identity"):
        storage.insert_received(missing)
    with pytest.raises(ValueError, match="colour"):
        storage.insert_received(unknown)
    assert db.session.scalars(select(RawPayload)).all() == []
