"""The checker on hand-made histories: each outcome it names is counted when, and only when,
the history shows it."""

from __future__ import annotations

import pytest

from app.pipeline import event_name, next_step
from tests.chaos.history import (
    END_STATES,
    NO_ANSWER,
    POSTING_LANDED,
    WAITING,
    ErpInvoice,
    PortalDocument,
    Submission,
    check,
    table,
)

pytestmark = pytest.mark.no_db

DONE = "ON_HOLD"  # an end state for invoices before and after posting


def submission(key: str, statuses: list[int], ids: set[int], number: str = "") -> Submission:
    return Submission(key, "invoice", "V1", number or key.upper(), statuses, ids)


def document(i: int, state: str = DONE, number: str | None = None) -> PortalDocument:
    return PortalDocument(i, "invoice", state, "V1", number or f"K{i}")


def test_a_clean_history_has_nothing_to_report():
    history = [submission("k1", [202], {1}), submission("k2", [NO_ANSWER, 202], {2})]
    outcome = check("s", history, {1: document(1), 2: document(2)}, {}, [])

    assert (outcome.submitted, outcome.accepted, outcome.no_answer) == (2, 2, 1)
    assert outcome.states == {DONE: 2}
    assert outcome.ok


def test_accepted_documents_not_at_an_end_or_missing_are_lost():
    history = [submission("k1", [202], {1}), submission("k2", [202], {2})]
    outcome = check("s", history, {1: document(1, "RECEIVED")}, {}, [])

    assert outcome.lost == [
        "document 1 (invoice) stuck in RECEIVED",
        "document 2 accepted but missing",
    ]
    assert not outcome.ok


@pytest.mark.parametrize("kind", ["invoice", "acknowledgment"])
@pytest.mark.parametrize("state", WAITING)
def test_a_document_is_done_where_the_pipeline_has_no_next_step_for_it(kind, state):
    waits_here = next_step(event_name(state), kind) is None
    document = PortalDocument(1, kind, state, "V1", "N1")
    history = [Submission("k1", kind, "V1", "N1", [202], {1})]

    assert (state in END_STATES[kind]) == waits_here
    assert (check("s", history, {1: document}, {}, []).lost == []) == waits_here


def test_one_key_answered_with_two_documents_is_a_duplicate():
    history = [submission("k1", [202], {1}), submission("k1", [409, 202], {2})]
    outcome = check("s", history, {1: document(1), 2: document(2)}, {}, [])

    assert outcome.duplicated == ["key k1 answered with documents [1, 2]"]


def test_two_documents_of_one_number_both_passing_on_to_the_erp_are_duplicates():
    history = [submission("k1", [202], {1}, "N1"), submission("k2", [202], {2}, "N1")]
    twins = {1: document(1, "VALIDATED", "N1"), 2: document(2, "VALIDATED", "N1")}
    held = {1: document(1, "VALIDATED", "N1"), 2: document(2, "ON_HOLD", "N1")}

    assert check("s", history, twins, {}, []).duplicated == ["invoice V1/N1 passed 2 times"]
    assert check("s", history, held, {}, []).duplicated == []


def test_erp_invoices_twice_or_never_submitted():
    history = [submission("k1", [202], {1}, "N1")]
    erp = [ErpInvoice(7, "V1", "N1"), ErpInvoice(8, "V1", "N1"), ErpInvoice(9, "V1", "X")]
    outcome = check("s", history, {1: document(1, number="N1")}, {}, erp)

    assert outcome.duplicated == ["ERP holds invoice V1/N1 2 times"]
    assert outcome.unexpected == ["ERP invoice 9 (V1/X) was never submitted"]


def test_a_submission_the_client_never_saw_accepted_but_that_committed_is_recovered():
    history = [submission("k1", [503, NO_ANSWER], set()), submission("k2", [NO_ANSWER], set())]
    recorded = {"k1": {1}}
    outcome = check("s", history, {1: document(1)}, recorded, [])

    assert (outcome.recovered, outcome.five_xx, outcome.no_answer, outcome.accepted) == (1, 1, 2, 0)
    assert not outcome.ok  # a 5xx answered to a client fails the scenario


@pytest.mark.skipif(not POSTING_LANDED, reason="posting is not on this branch yet")
def test_once_posting_landed_a_posted_invoice_the_erp_lacks_is_lost():
    history = [submission("k1", [202], {1}, "N1")]
    outcome = check("s", history, {1: document(1, "POSTED", "N1")}, {}, [])

    assert outcome.lost == ["document 1 is POSTED but the ERP has no invoice N1"]


def test_the_table_has_a_row_per_scenario():
    history = [submission("k1", [202], {1})]
    text = table([check("first", history, {1: document(1)}, {}, [])])

    assert text.splitlines()[1].split()[:4] == ["first", "1", "1", f"{DONE}=1"]
