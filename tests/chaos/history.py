"""The history of a scenario and its checker, in the manner of Jepsen's total-queue checker.

A submission is one document sent by a client with its Idempotency-Key, retried with the same
key until it gets an answer that is not an error; every attempt's answer is kept. At the end the
checker reads what the portal and the ERP hold and counts:

- lost: accepted (202) but not in an end state for its kind after the drain, or missing;
  once posting has landed, also a document the portal calls POSTED/PAID that the ERP lacks;
- duplicated: one key answered with two document ids; two documents of the same supplier and
  number that both passed on towards the ERP; two ERP AP invoices for one document;
- unexpected: an ERP AP invoice, created during the scenario, that no submission sent;
- recovered: a submission whose every attempt failed (5xx, no answer) yet whose document was
  committed and reached an end state (the idempotency record shows it);
- 5xx: answers with a 5xx status, over all attempts; "no answer" counts connection errors.

The checker is a pure function of the history and two snapshots, so it is tested on its own.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass, field

from app.pipeline import event_name, next_step

# The suite tightens by itself when invoice posting (app/posting) is on the branch: invoices
# must then reach the ERP, VALIDATED is no longer an end, and the ERP's AP ledger is checked.
POSTING_LANDED = importlib.util.find_spec("app.posting") is not None

# End states per kind of document, read from the pipeline: the terminal states, and a state
# the pipeline has no next step for yet (today an invoice is done once VALIDATED when nothing
# posts it, and an acknowledgment waits at NORMALIZED when nothing matches it).
TERMINAL = frozenset({"POSTED", "PAID", "APPLIED", "ON_HOLD", "REJECTED", "DEAD"})
WAITING = ("NORMALIZED", "VALIDATED")


def _end_states(kind: str) -> frozenset[str]:
    waiting = {s for s in WAITING if next_step(event_name(s), kind) is None}
    return TERMINAL | waiting


END_STATES = {kind: _end_states(kind) for kind in ("invoice", "acknowledgment")}
# States in which a document has passed, or is passing, on towards the ERP's AP ledger.
BOUND_FOR_ERP = frozenset({"VALIDATED", "POSTING", "POSTED", "PAID"})
IN_ERP = frozenset({"POSTED", "PAID"})

NO_ANSWER = 0  # the status recorded for an attempt that got no HTTP answer at all


@dataclass
class Submission:
    """One document as the client sent it, and every answer it got."""

    key: str
    kind: str
    vendor_number: str
    number: str
    statuses: list[int] = field(default_factory=list)
    document_ids: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)  # what each 5xx answer said it was

    @property
    def accepted(self) -> bool:
        return 202 in self.statuses

    @property
    def indeterminate(self) -> bool:
        """Never accepted and never refused: the client cannot know whether it went through."""
        return not self.accepted and all(s >= 500 or s == NO_ANSWER for s in self.statuses)


@dataclass(frozen=True)
class PortalDocument:
    id: int
    kind: str
    state: str
    vendor_number: str
    number: str | None  # known once normalized


@dataclass(frozen=True)
class ErpInvoice:
    id: int
    vendor_number: str
    invoice_number: str


@dataclass
class Outcome:
    scenario: str
    submitted: int = 0
    accepted: int = 0
    states: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    recovered: int = 0
    five_xx: int = 0
    errors: Counter = field(default_factory=Counter)
    no_answer: int = 0
    drain_seconds: float = 0.0
    manual_sweeps: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.five_xx)


def check(
    scenario: str,
    submissions: list[Submission],
    documents: dict[int, PortalDocument],
    recorded_keys: dict[str, set[int]],
    erp_invoices: list[ErpInvoice],
) -> Outcome:
    """Count the outcomes of one scenario.

    `documents`: the portal's documents of the scenario by id; `recorded_keys`: the document
    ids the portal's idempotency records hold per key (what was committed, whatever the client
    heard); `erp_invoices`: the AP invoices the ERP created during the scenario.
    """
    outcome = Outcome(scenario, submitted=len(submissions))
    statuses = [status for s in submissions for status in s.statuses]
    outcome.five_xx = sum(1 for status in statuses if status >= 500)
    outcome.errors = Counter(error for s in submissions for error in s.errors)
    outcome.no_answer = statuses.count(NO_ANSWER)
    accepted = {i for s in submissions if s.accepted for i in s.document_ids}
    outcome.accepted = len(accepted)
    outcome.states = Counter(documents[i].state for i in accepted if i in documents)
    outcome.lost = _lost(accepted, documents)
    outcome.duplicated = _duplicated(submissions, documents, erp_invoices)
    outcome.unexpected = _unexpected(submissions, erp_invoices)
    outcome.recovered = _recovered(submissions, documents, recorded_keys)
    if POSTING_LANDED:
        outcome.lost += _missing_in_erp(accepted, documents, erp_invoices)
    return outcome


def is_done(document: PortalDocument) -> bool:
    return document.state in END_STATES[document.kind]


def _lost(accepted: set[int], documents: dict[int, PortalDocument]) -> list[str]:
    lost = []
    for document_id in sorted(accepted):
        document = documents.get(document_id)
        if document is None:
            lost.append(f"document {document_id} accepted but missing")
        elif not is_done(document):
            lost.append(f"document {document_id} ({document.kind}) stuck in {document.state}")
    return lost


def _duplicated(
    submissions: list[Submission],
    documents: dict[int, PortalDocument],
    erp_invoices: list[ErpInvoice],
) -> list[str]:
    answered: dict[str, set[int]] = {}
    for s in submissions:  # the same key may be sent by several clients at once
        answered.setdefault(s.key, set()).update(s.document_ids)
    found = [
        f"key {k} answered with documents {sorted(i)}" for k, i in answered.items() if len(i) > 1
    ]
    bound = Counter(
        (d.vendor_number, d.number)
        for d in documents.values()
        if d.kind == "invoice" and d.state in BOUND_FOR_ERP and d.number
    )
    found += [f"invoice {v}/{n} passed {c} times" for (v, n), c in bound.items() if c > 1]
    in_erp = Counter((i.vendor_number, i.invoice_number) for i in erp_invoices)
    found += [f"ERP holds invoice {v}/{n} {c} times" for (v, n), c in in_erp.items() if c > 1]
    return found


def _unexpected(submissions: list[Submission], erp_invoices: list[ErpInvoice]) -> list[str]:
    sent = {(s.vendor_number, s.number) for s in submissions}
    return [
        f"ERP invoice {i.id} ({i.vendor_number}/{i.invoice_number}) was never submitted"
        for i in erp_invoices
        if (i.vendor_number, i.invoice_number) not in sent
    ]


def _recovered(
    submissions: list[Submission],
    documents: dict[int, PortalDocument],
    recorded_keys: dict[str, set[int]],
) -> int:
    return sum(
        1
        for s in submissions
        if s.indeterminate
        and recorded_keys.get(s.key)
        and all(i in documents and is_done(documents[i]) for i in recorded_keys[s.key])
    )


def _missing_in_erp(
    accepted: set[int], documents: dict[int, PortalDocument], erp_invoices: list[ErpInvoice]
) -> list[str]:
    in_erp = {(i.vendor_number, i.invoice_number) for i in erp_invoices}
    return [
        f"document {d.id} is {d.state} but the ERP has no invoice {d.number}"
        for i in sorted(accepted)
        if (d := documents.get(i)) is not None
        and d.kind == "invoice"
        and d.state in IN_ERP
        and (d.vendor_number, d.number) not in in_erp
    ]


HEADER = (
    "scenario",
    "submitted",
    "accepted",
    "end states",
    "lost",
    "dup",
    "unexp",
    "recov",
    "5xx",
    "no answer",
    "sweeps",
    "drain s",
)


def table(outcomes: list[Outcome]) -> str:
    """The counts per scenario as a plain-text table."""
    rows = [HEADER] + [
        (
            o.scenario,
            str(o.submitted),
            str(o.accepted),
            " ".join(f"{state}={count}" for state, count in sorted(o.states.items())),
            str(len(o.lost)),
            str(len(o.duplicated)),
            str(len(o.unexpected)),
            str(o.recovered),
            str(o.five_xx),
            str(o.no_answer),
            str(o.manual_sweeps),
            f"{o.drain_seconds:.1f}",
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    notes = [f"  {o.scenario}: {o.note}" for o in outcomes if o.note]
    notes += [
        f"  {o.scenario}: 5xx answers: {', '.join(f'{n} x {e}' for e, n in o.errors.items())}"
        for o in outcomes
        if o.errors
    ]
    return "\n".join([*lines, *notes])
