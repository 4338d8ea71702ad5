"""The one function that changes a bank account's status, and the table of changes it allows.

Bank accounts call their life cycle `status` (BankStatus), like organizations (OrgStatus);
documents and tier requests call theirs `state`. The columns keep their names; the words mean
the same thing: where the record is in its life cycle.

An account is born DRAFT (the onboarding bank step) or PENDING (a change asked for after
activation) when `banking` creates it; every change after that goes through `transition`.
"""

from __future__ import annotations

from app.lifecycle import Lifecycle
from app.onboarding.errors import OnboardingError
from app.onboarding.models import BankAccount, BankStatus

B = BankStatus

ALLOWED: dict[BankStatus, frozenset[BankStatus]] = {
    B.DRAFT: frozenset({B.ACTIVE}),  # the organization was approved
    B.PENDING: frozenset({B.ACTIVE, B.REJECTED}),  # the second approval, or a rejection
    B.ACTIVE: frozenset({B.SUPERSEDED}),  # another account came into force
    B.SUPERSEDED: frozenset(),
    B.REJECTED: frozenset(),
}


class BankTransitionError(OnboardingError):
    """A change of status the bank account's life cycle does not allow."""

    def __init__(self, account: BankAccount, to_status: BankStatus) -> None:
        current, target = account.status.value, to_status.value
        super().__init__(f"Bank account {account.id} cannot go from {current} to {target}.")


BANK_ACCOUNTS: Lifecycle[BankAccount, BankStatus] = Lifecycle(
    "status", ALLOWED, "bank_account.", BankTransitionError, lambda a: a.organization_id
)


can_transition = BANK_ACCOUNTS.can
# Audited as `bank_account.<status>` unless the caller names the action: the change and the
# rejection of a bank change keep their names in the log (`bank_account.changed`, ...).
transition = BANK_ACCOUNTS.move
