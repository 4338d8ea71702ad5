"""What every stage job does around its stage's work: lock the document (two runs of a job
never interleave), do the work, and keep the periodic sweep armed. Stage modules stay a job
definition and a service."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from app.documents import sweeper
from app.documents.models import Document, DocumentState
from app.documents.queries import locked_document
from app.pipeline import on_behalf_of

log = structlog.get_logger(__name__)


def run_stage(command: str, document_id: int, work: Callable[[Document], DocumentState]) -> str:
    """Run `work` on the locked document; the state it leaves, or "missing" for no document."""
    document = locked_document(document_id)
    if document is None:
        log.warning("no such document", command=command, document_id=document_id)
        return "missing"
    with on_behalf_of(document_id):  # its ERP calls are kept with it (app.ops.erp_calls)
        state = work(document)
    sweeper.arm_now_and_then()
    return state.value
