"""The flow in one table: each event a document goes through, and the job it sets off next.

Read top to bottom, FLOW is what happens to a document after it arrives. Events are past
tense (`document.received`), commands are verbs (`normalize`). Jobs are named by dotted path,
so this module imports no job code, and every stage is wired here and nowhere else. A job's id
is `<command>-<document id>` (`normalize-42`: RQ allows only letters, digits, `_` and `-`), so
the same work sent twice is one job. `Step` is the one source of a job's id, queue and retry
schedule: the outbox, the sweeper and the job wrapper all read them from here.

`document.validated` → post (ERP posting, app.posting) for invoices, apply (to the ERP's PO)
for acknowledgments. Payment sync and the reconciler are periodic (HOUSEKEEPING), not steps.
Anything else may listen to `document_transitioned` (webhooks, metrics) without the pipeline
knowing about it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from blinker import Namespace
from rq import Retry

# The document the code running now works on (a stage job, posting, payment sync): the ERP
# client reports its calls as made for it (app.ops.erp_calls keeps them with the document).
_document_at_work: ContextVar[int | None] = ContextVar("document_at_work", default=None)


@contextlib.contextmanager
def on_behalf_of(document_id: int) -> Iterator[None]:
    """Everything done inside (ERP calls above all) is done for `document_id`."""
    token = _document_at_work.set(document_id)
    try:
        yield
    finally:
        _document_at_work.reset(token)


def document_at_work() -> int | None:
    """The document set by the innermost `on_behalf_of`, if any."""
    return _document_at_work.get()


# Sent after every transition, inside the transaction, with one Transitioned as the sender.
document_transitioned = Namespace().signal("document-transitioned")


@dataclass(frozen=True)
class Transitioned:
    """What a receiver of `document_transitioned` gets, the same for every transition: ids and
    states, never the document itself (a receiver that needs more reads it in its own job)."""

    event: str
    document_id: int
    kind: str
    from_state: str | None
    to_state: str
    sender_org_id: int
    supplier_org_id: int | None


@dataclass(frozen=True)
class Step:
    """A command run by a job on a queue, with its retry schedule in seconds."""

    command: str
    job: str
    queue: str = "default"
    retry_intervals: tuple[int, ...] = (5, 30, 120)
    # The kinds of document the step is for; another kind waits where it is.
    kinds: frozenset[str] = frozenset({"invoice", "acknowledgment"})

    def job_id(self, document_id: int) -> str:
        return f"{self.command}-{document_id}"

    def retry(self) -> Retry:
        return Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals))


NORMALIZE = Step("normalize", "app.normalize.tasks.normalize")
VALIDATE = Step("validate", "app.matching.tasks.validate", kinds=frozenset({"invoice"}))
# An acknowledgment is matched against its PO, then applied to the PO in the ERP (APPLIED).
MATCH_ACK = Step(
    "match_ack", "app.matching.tasks.match_acknowledgment", kinds=frozenset({"acknowledgment"})
)
APPLY_ACK = Step(
    "apply_ack",
    "app.matching.tasks.apply_acknowledgment",
    retry_intervals=(10, 60, 300, 900, 3600),
    kinds=frozenset({"acknowledgment"}),
)

# Posting runs on its own queue, "erp" (app.jobs.ERP_QUEUE): a slow or failing ERP holds up only
# ERP-bound work, never intake. Its retries are its own (backoff, breaker: app.posting), so RQ
# retries only a crash of the job itself.
POST = Step(
    "post",
    "app.posting.tasks.post",
    queue="erp",
    retry_intervals=(30, 120),
    kinds=frozenset({"invoice"}),
)

# Each event with the steps it may set off; a document takes the first one for its kind.
FLOW: dict[str, tuple[Step, ...]] = {
    "document.received": (NORMALIZE,),
    "document.normalized": (VALIDATE, MATCH_ACK),
    "document.validated": (POST, APPLY_ACK),
}

STEPS_BY_COMMAND: dict[str, Step] = {
    step.command: step for steps in FLOW.values() for step in steps
}


def event_name(state: str) -> str:
    """The event of entering `state`: RECEIVED → `document.received`."""
    return f"document.{state.lower()}"


def next_step(event: str, kind: str) -> Step | None:
    """The work `event` makes due for a `kind` document, or None when it waits (or is done)."""
    return next((step for step in FLOW.get(event, ()) if kind in step.kinds), None)


# The periodic sweep (`app.documents.sweeper`) re-sends lost work; each run also does the
# housekeeping listed here, each task owned by its package: name → dotted path of a function
# that takes the time of the sweep and answers how many rows it handled.
SWEEP_JOB = "app.documents.tasks.sweep"
HOUSEKEEPING: dict[str, str] = {
    "purged_keys": "app.intake.idempotency.purge_expired",
    "rechecked_holds": "app.matching.services.revalidate_due",
    "resent_webhooks": "app.webhooks.tasks.resend_due",
    # An endpoint failing for five days is disabled even when no new attempt fails.
    "disabled_webhooks": "app.webhooks.tasks.disable_failing",
    # Goods receipts the ERP reports re-check the held invoices on their PO at once.
    "receipts_followed": "app.matching.receipts.follow_receipts",
    # Approved bank changes the ERP's vendor record does not hold yet are sent again.
    "bank_details_pushed": "app.onboarding.erp_push.push_due",
    "synced_payments": "app.posting.payments.sync_due",
    "reconciled": "app.posting.reconciler.reconcile_due",
}
