"""`make run` keeps the portal in SQLite: intake there takes the statement-by-statement path
(no data-modifying CTEs, no advisory locks) and must answer and store exactly as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.db import db
from app.documents.models import Document, DocumentEvent, DocumentState, OutboxEntry
from app.jobs import redis_connection
from app.oauth import scopes, services
from app.oauth.tokens import issue_access_token
from app.orgs.models import Organization, OrgKind, OrgStatus
from tests.conftest import UNREACHABLE_ERP
from tests.formats.helpers import local
from tests.intake.helpers import run_jobs

pytestmark = pytest.mark.no_db


@pytest.fixture
def sqlite_app(tmp_path) -> Iterator[Flask]:
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.sqlite'}",
            "ERP_URL": UNREACHABLE_ERP,
        },
    )
    # `no_db` skips the shared Redis flush; the jobs here still go through the test Redis.
    redis = redis_connection(app)
    redis.flushdb()
    with app.app_context():
        upgrade(revision="heads")
        yield app
        db.session.remove()
        db.engine.dispose()
    redis.flushdb()


def _bearer() -> dict[str, str]:
    org = Organization(
        name="Lakeside Medical",
        kind=OrgKind.SUPPLIER,
        status=OrgStatus.ACTIVE,
        approved_scopes=list(scopes.SCOPES),
    )
    db.session.add(org)
    db.session.flush()
    client, _ = services.create_client(org, "SQLite client", list(scopes.SCOPES))
    token = issue_access_token(client)
    db.session.commit()
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_intake_on_sqlite_stores_replays_and_normalizes(sqlite_app):
    headers = {**_bearer(), "Idempotency-Key": "sqlite-1"}
    client = sqlite_app.test_client()
    body = local("json_two_documents.json")

    first = client.post("/api/v1/invoices", data=body, headers=headers)
    again = client.post("/api/v1/invoices", data=body, headers=headers)
    reused = client.post("/api/v1/invoices", data=body + b" ", headers=headers)
    repeated = client.post(
        "/api/v1/invoices", data=body, headers={**headers, "Idempotency-Key": "2"}
    )

    assert first.status_code == again.status_code == 202
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    # The same bytes under a new key: refused, naming the first document (app.intake.repeats).
    assert repeated.status_code == 409
    assert repeated.json["document"]["id"] == first.json["documents"][0]["id"]
    ids = [document["id"] for document in first.json["documents"]]
    assert len(ids) == 2
    assert _count(Document) == _count(DocumentEvent) == _count(OutboxEntry) == 2
    jobs = {entry.job_id for entry in db.session.scalars(select(OutboxEntry))}
    assert jobs == {f"normalize-{document_id}" for document_id in ids}

    assert run_jobs() == 2
    db.session.expire_all()
    states = {db.session.get(Document, document_id).state for document_id in ids}
    assert states == {DocumentState.NORMALIZED}


def test_a_refused_action_on_sqlite_is_undone_alone(sqlite_app):
    """The commit edge's savepoint (refusable) works on SQLite too, which `make run` uses."""
    from app.audit.models import AuditEntry
    from app.audit.services import record
    from app.db import refusable, unit_of_work

    def refused() -> None:
        record("test.refused", actor_label="test")
        raise ValueError("refused")

    with unit_of_work():
        record("test.kept", actor_label="test")
        with pytest.raises(ValueError, match="refused"), refusable():
            refused()
    db.session.remove()
    assert db.session.scalars(select(AuditEntry.action)).all() == ["test.kept"]


@pytest.mark.parametrize("document_id", [str(2**31), str(2**63), "9" * 40])
def test_an_id_out_of_range_is_404_on_sqlite_too(sqlite_app, document_id):
    """SQLite cannot bind an integer past 64 bits: the route must not reach the query."""
    headers = _bearer()
    client = sqlite_app.test_client()
    response = client.get(f"/api/v1/documents/{document_id}", headers=headers)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/documents/2147483647", headers=headers).status_code == 404
