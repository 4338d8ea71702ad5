"""The validate job: a thin RQ entry point that takes a document id."""

from __future__ import annotations

import structlog

from app.documents import sweeper
from app.jobs import job
from app.matching import services

log = structlog.get_logger(__name__)


@job
def validate(document_id: int) -> str:
    """Validate one document; run again, it finds the work done and changes nothing."""
    document = services.locked_document(document_id)
    if document is None:
        log.warning("validate: no such document", document_id=document_id)
        return "missing"
    state = services.validate(document)
    sweeper.arm_now_and_then()
    return state.value
