"""The bank account life cycle table, without a database."""

from __future__ import annotations

import pytest

from app.onboarding import bank_states
from app.onboarding.errors import OnboardingError
from app.onboarding.models import BankAccount, BankStatus

pytestmark = pytest.mark.no_db


def test_every_status_has_a_row():
    assert set(bank_states.ALLOWED) == set(BankStatus)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (BankStatus.SUPERSEDED, BankStatus.ACTIVE),  # old details never come back by themselves
        (BankStatus.REJECTED, BankStatus.ACTIVE),
        (BankStatus.DRAFT, BankStatus.SUPERSEDED),
        (BankStatus.ACTIVE, BankStatus.REJECTED),
    ],
)
def test_an_illegal_change_is_refused_and_leaves_the_status_alone(start, target):
    account = BankAccount(id=7, organization_id=1, status=start)
    with pytest.raises(bank_states.BankTransitionError, match="cannot go from") as raised:
        bank_states.transition(account, target, actor=None)
    assert isinstance(raised.value, OnboardingError)  # views already show these to the user
    assert account.status == start
