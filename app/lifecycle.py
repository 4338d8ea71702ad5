"""The one way a record with a life cycle changes state (bank accounts, identity providers, tier
requests): check the change against the record's ALLOWED table, set it, write the audit entry.
Each owner module declares its Lifecycle once and exports its `move` as `transition` and its
`can` as `can_transition`; documents have their own (app/documents/transitions.py), which also
writes a timeline and owes the next job."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from app.audit.services import record as audit
from app.db import db

R = TypeVar("R")
S = TypeVar("S", bound=enum.Enum)


@dataclass(frozen=True)
class Lifecycle(Generic[R, S]):
    attribute: str  # "status" or "state": the column that holds it
    allowed: Mapping[S, frozenset[S]]
    action_prefix: str  # the audit action is the prefix and the new state, lower case
    refusal: Callable[[R, S], Exception]  # what a refused change raises (a domain error)
    organization_of: Callable[[R], int | None]  # whose audit log the change is filed in

    def can(self, from_state: S, to_state: S) -> bool:
        return to_state in self.allowed[from_state]

    def move(
        self,
        item: R,
        to_state: S,
        *,
        actor: Any,
        reason: str | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Change `item` to `to_state` or raise the refusal; audited as `action` when given
        (callers whose change already had a name in the log keep it), else by the new state."""
        before: S = getattr(item, self.attribute)
        if not self.can(before, to_state):
            raise self.refusal(item, to_state)
        setattr(item, self.attribute, to_state)
        db.session.flush()
        entry: dict[str, Any] = {"from": before.value, "to": to_state.value}
        if reason is not None:
            entry["reason"] = reason
        audit(
            action or f"{self.action_prefix}{str(to_state.value).lower()}",
            actor=actor,
            organization_id=self.organization_of(item),
            target=item,
            details={**entry, **(details or {})},
        )
