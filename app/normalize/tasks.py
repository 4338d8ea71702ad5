"""The normalize job: a thin RQ entry point that takes a document id; its unit of work is the
job wrapper's (one commit at the end, a rollback on any exception)."""

from __future__ import annotations

import structlog

from app.documents import sweeper
from app.jobs import job
from app.normalize import services

log = structlog.get_logger(__name__)


@job
def normalize(document_id: int) -> str:
    """Normalize one document; run again, it finds the work done and changes nothing."""
    document = services.locked_document(document_id)
    if document is None:
        log.warning("normalize: no such document", document_id=document_id)
        return "missing"
    state = services.normalize(document)
    sweeper.arm_now_and_then()
    return state.value
