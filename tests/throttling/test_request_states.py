"""The tier request life cycle table, without a database."""

from __future__ import annotations

import pytest

from app.throttling import services
from app.throttling.models import TierRequest, TierRequestState

pytestmark = pytest.mark.no_db


def test_every_state_has_a_row():
    assert set(services.ALLOWED) == set(TierRequestState)


@pytest.mark.parametrize("decided", [TierRequestState.APPROVED, TierRequestState.REJECTED])
@pytest.mark.parametrize("target", list(TierRequestState))
def test_a_decided_request_cannot_change_again(decided, target):
    tier_request = TierRequest(id=5, organization_id=1, state=decided)
    with pytest.raises(services.ThrottlingError, match="already been decided"):
        services.transition(tier_request, target, actor=None)  # type: ignore[arg-type]
    assert tier_request.state == decided


def test_the_waiting_state_is_stored_as_pending():
    assert TierRequestState.PENDING.value == "PENDING"
    assert "ON_HOLD" not in {s.value for s in TierRequestState}
