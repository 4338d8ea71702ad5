"""The chaos suite: real processes on loopback, a few hundred documents in flight, one fault
per scenario, then heal and drain. After each: nothing lost, nothing duplicated, nothing
unexpected in the ERP, and no 5xx ever answered to a client."""

from __future__ import annotations

import pytest

from tests.chaos import load
from tests.chaos.cluster import Cluster
from tests.chaos.history import Outcome
from tests.chaos.scenarios import SCENARIOS, Run, Scenario

pytestmark = [pytest.mark.slow, pytest.mark.no_db, pytest.mark.timeout(300)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_accepted_document_reaches_one_end_state(
    scenario: Scenario, cluster: Cluster, client: load.Client, outcomes: list[Outcome]
) -> None:
    run = Run(scenario, cluster)
    outcome = run.execute(client)
    outcomes.append(outcome)
    if run.console_watch is not None:  # the ops console showed the fault while it lasted
        watched = run.console_watch
        print(
            f"\n{scenario.name}: console showed {watched.seen} in {watched.reads} reads"
            f" taking {watched.read_seconds} s"
        )
        print("\n".join(f"  read {i}: {shown}" for i, shown in enumerate(watched.shown)))
        assert watched.missing() == [], (watched.seen, watched.errors, watched.shown)

    assert outcome.accepted > 0
    assert outcome.lost == []
    assert outcome.duplicated == []
    assert outcome.unexpected == []
    assert outcome.five_xx == 0, dict(outcome.errors)
