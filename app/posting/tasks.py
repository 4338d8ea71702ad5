"""The post job: a thin RQ entry point that takes a document id."""

from __future__ import annotations

from app.documents import sweeper
from app.jobs import job
from app.pipeline import on_behalf_of
from app.posting import services


@job
def post(document_id: int) -> str:
    """Post one invoice to the ERP. Run twice, the second run finds the attempt claimed or
    settled and sends nothing. Its phases commit on their own (`services.post`)."""
    with on_behalf_of(document_id):  # its ERP calls are kept with it (app.ops.erp_calls)
        result = services.post(document_id)
    sweeper.arm_now_and_then()
    return result
