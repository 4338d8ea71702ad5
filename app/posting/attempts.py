"""The one function that ends a posting attempt: `sending` becomes posted, rejected, failed or
unknown, once, with what the ERP said (or why nobody knows)."""

from __future__ import annotations

import datetime as dt

from app.posting.models import AttemptState, PostingAttempt


class AttemptAlreadyFinished(Exception):  # noqa: N818 - reads as the rule it enforces
    pass


def finish(
    attempt: PostingAttempt,
    state: AttemptState,
    at: dt.datetime,
    *,
    error: str | None = None,
    resolved_by: str | None = None,
    ap_invoice_id: int | None = None,
) -> None:
    if attempt.state != AttemptState.SENDING:
        raise AttemptAlreadyFinished(f"attempt {attempt.id} is already {attempt.state.value}")
    if state == AttemptState.SENDING:
        raise ValueError("an attempt finishes in another state than sending")
    attempt.state, attempt.finished_at = state, at
    attempt.error, attempt.resolved_by = error, resolved_by
    attempt.erp_ap_invoice_id = ap_invoice_id
