"""API tokens, documents and the job runner for the intake tests. Organizations and
connections come from tests.factories, samples from tests.formats.helpers (the public corpus
is optional: a test that reads it is skipped without it)."""

from __future__ import annotations

from rq import Queue, SimpleWorker

from app.db import db
from app.documents.models import Document
from app.jobs import QUEUE_NAMES, redis_connection
from app.oauth.tokens import issue_access_token
from app.orgs.models import Organization
from tests.factories.oauth import ApiClientFactory


def bearer(org: Organization, *wanted: str) -> dict[str, str]:
    """Authorization header of a fresh client of `org` holding `wanted` (or all) scopes."""
    client = ApiClientFactory(organization=org, scopes=wanted or org.approved_scopes)
    return {"Authorization": f"Bearer {issue_access_token(client, wanted)}"}


def run_jobs() -> int:
    """Run every queued job in this process, as a worker would; returns how many ran."""
    connection = redis_connection()
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    before = sum(q.count for q in queues)
    SimpleWorker(queues, connection=connection).work(burst=True)
    return before


def document(document_id: int) -> Document:
    db.session.expire_all()
    found = db.session.get(Document, document_id)
    assert found is not None
    return found
