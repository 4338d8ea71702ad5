"""The validate job: a thin RQ entry point that takes a document id."""

from __future__ import annotations

from app.documents.stages import run_stage
from app.jobs import job
from app.matching import services
from app.pipeline import VALIDATE


@job
def validate(document_id: int) -> str:
    """Validate one document; run again, it finds the work done and changes nothing."""
    return run_stage(VALIDATE.command, document_id, services.validate)
