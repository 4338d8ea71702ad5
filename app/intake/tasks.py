"""RQ entry points for intake: thin wrappers that take ids and run one unit of work each."""

from __future__ import annotations

import time

import structlog
from redis.exceptions import RedisError

from app.intake import services, sweeper
from app.jobs import job

log = structlog.get_logger(__name__)


@job
def normalize(document_id: int) -> str:
    """Normalize one document; run again, it finds the work done and changes nothing."""
    document = services.locked_document(document_id)
    if document is None:
        log.warning("normalize: no such document", document_id=document_id)
        return "missing"
    state = services.normalize(document)
    _arm_sweeper()
    return state.value


_last_armed = {"at": -float("inf")}


def _arm_sweeper() -> None:
    """Look at the sweep schedule at most once per interval in this process, so most jobs pay
    nothing for it. Best effort: a document must not fail to normalize because the schedule
    could not be checked; a later job, or `flask intake sweep`, arms it."""
    if time.monotonic() - _last_armed["at"] < sweeper.setting("INTAKE_SWEEP_INTERVAL_SECONDS"):
        return
    _last_armed["at"] = time.monotonic()
    try:
        sweeper.keep_scheduled()
    except RedisError:
        log.warning("could not check the sweep schedule", exc_info=True)


@job
def sweep() -> dict[str, int]:
    """One sweep, then the next one on the schedule."""
    report = sweeper.sweep()
    sweeper.schedule_next()
    return {"resent": report.resent, "live": report.live, "purged_keys": report.purged_keys}
