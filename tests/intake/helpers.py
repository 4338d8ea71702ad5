"""Organizations, API clients and tokens, samples and the job runner for the intake tests."""

from __future__ import annotations

from pathlib import Path

from rq import Queue, SimpleWorker

from app.db import db
from app.intake.models import Document
from app.jobs import QUEUE_NAMES, redis_connection
from app.oauth import scopes, services
from app.oauth.tokens import issue_access_token
from app.onboarding.models import Connection, DocumentType, Organization, OrgKind
from tests.factories import OrganizationFactory

ROOT = Path(__file__).resolve().parents[2]
SHARED_SAMPLES = ROOT.parent / "shared" / "samples"
LOCAL_SAMPLES = ROOT / "tests" / "formats" / "samples"
ALL_SCOPES = list(scopes.SCOPES)


def shared(relative: str) -> bytes:
    return (SHARED_SAMPLES / relative).read_bytes()


def local(name: str) -> bytes:
    return (LOCAL_SAMPLES / name).read_bytes()


def supplier(**kwargs) -> Organization:
    kwargs.setdefault("approved_scopes", ALL_SCOPES)
    return OrganizationFactory(kind=OrgKind.SUPPLIER, **kwargs)


def partner(**kwargs) -> Organization:
    kwargs.setdefault("approved_scopes", ALL_SCOPES)
    return OrganizationFactory(partner=True, **kwargs)


def connect(partner_org: Organization, supplier_org: Organization, *types: DocumentType) -> None:
    db.session.add(
        Connection(
            partner_id=partner_org.id,
            supplier_id=supplier_org.id,
            document_types=[t.value for t in (types or DocumentType)],
        )
    )
    db.session.flush()


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
