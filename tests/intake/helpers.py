"""Organizations, API clients and tokens, samples and the job runner for the intake tests.
Organizations and connections are tests/oauth's helpers, and samples tests/formats' helpers
(the public corpus is optional: a test that reads it is skipped without it), re-exported here."""

from __future__ import annotations

from rq import Queue, SimpleWorker

from app.db import db
from app.documents.models import Document
from app.jobs import QUEUE_NAMES, redis_connection
from app.oauth import services
from app.oauth.tokens import issue_access_token
from app.orgs.models import Organization
from tests.formats.helpers import local, shared
from tests.oauth.helpers import connect, partner, supplier

__all__ = ["bearer", "connect", "document", "local", "partner", "run_jobs", "shared", "supplier"]


def bearer(org: Organization, *wanted: str) -> dict[str, str]:
    """Authorization header of a fresh client of `org` holding `wanted` (or all) scopes."""
    client, _ = services.create_client(org, "Test client", wanted or org.approved_scopes)
    db.session.commit()  # only releases a savepoint of the test's transaction
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
