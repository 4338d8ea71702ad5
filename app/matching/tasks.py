"""The matching jobs: thin RQ entry points that take a document id."""

from __future__ import annotations

from app.documents.stages import run_stage
from app.jobs import job
from app.matching import acknowledgments, services
from app.pipeline import APPLY_ACK, MATCH_ACK, VALIDATE


@job
def validate(document_id: int) -> str:
    """Validate one document; run again, it finds the work done and changes nothing."""
    return run_stage(VALIDATE.command, document_id, services.validate)


@job
def match_acknowledgment(document_id: int) -> str:
    """Match one acknowledgment against its PO; run again, it changes nothing."""
    return run_stage(MATCH_ACK.command, document_id, acknowledgments.match)


@job
def apply_acknowledgment(document_id: int) -> str:
    """Apply one matched acknowledgment to its PO in the ERP, once per key."""
    return run_stage(APPLY_ACK.command, document_id, acknowledgments.apply)
