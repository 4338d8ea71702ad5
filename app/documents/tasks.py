"""The periodic sweep job: resend lost work, run the housekeeping, schedule the next sweep."""

from __future__ import annotations

from app.documents import sweeper
from app.jobs import job


@job
def sweep() -> dict[str, int]:
    """One sweep, then the next one on the schedule."""
    report = sweeper.sweep()
    done = sweeper.housekeeping()
    sweeper.schedule_next()
    return {"resent": report.resent, "live": report.live, **done}
