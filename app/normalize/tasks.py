"""The normalize job: a thin RQ entry point that takes a document id; its unit of work is the
job wrapper's (one commit at the end, a rollback on any exception)."""

from __future__ import annotations

from app.documents.stages import run_stage
from app.jobs import job
from app.normalize import services
from app.pipeline import NORMALIZE


@job
def normalize(document_id: int) -> str:
    """Normalize one document; run again, it finds the work done and changes nothing."""
    return run_stage(NORMALIZE.command, document_id, services.normalize)
