"""Where a disputed line stands once accepted, as its supplier may read it: the invoice went on
without the line, and releasing the dispute booked the line as its own AP invoice, which the
ERP pays on its own. The API's hold (`app.api.representations`) and the supplier's document
page (app/templates/intake/document.html) read it; finance's wording never reaches it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.matching.models import LINE_POSTED, LINE_REFUSED, OWED, Hold

# The hold's follow-up in the supplier's terms: accepted (being booked), booked, or refused by
# the hospital's accounting system; a booked line payment sync saw paid is "paid".
ACCEPTED, BOOKED, PAID, REFUSED = "accepted", "booked", "paid", "refused"
STATES = (ACCEPTED, BOOKED, PAID, REFUSED)
_BY_FOLLOWUP = {OWED: ACCEPTED, LINE_POSTED: BOOKED, LINE_REFUSED: REFUSED}


@dataclass(frozen=True)
class Settlement:
    line: str
    state: str
    paid_on: dt.date | None = None
    reference: str | None = None


def settlement(hold: Hold) -> Settlement | None:
    """The accepted line's settlement, or None for a hold that accepted no line (any other
    hold, a dispute still open, or one released before the invoice was booked: the invoice
    was then booked whole, the line in it)."""
    state = _BY_FOLLOWUP.get(hold.followup or "")
    if state is None:
        return None
    if state == BOOKED and hold.followup_paid_on is not None:
        return Settlement(
            hold.line or "", PAID, hold.followup_paid_on, hold.followup_payment_reference
        )
    return Settlement(hold.line or "", state)


def words(hold: Hold) -> str | None:
    """The settlement in one plain sentence for the supplier's page, None without one."""
    found = settlement(hold)
    if found is None:
        return None
    line = f"Line {found.line}" if found.line else "The line"
    if found.state == PAID:
        paid_on = found.paid_on.isoformat() if found.paid_on else "an unknown date"
        return (
            f"{line} was accepted and booked on its own; paid on {paid_on}, "
            f"reference {found.reference or 'none given'}."
        )
    if found.state == BOOKED:
        return f"{line} was accepted and booked on its own: waiting for the payment run."
    if found.state == REFUSED:
        return (
            f"{line} was accepted, but the hospital's accounting system could not enter it on "
            "its own: the accounts payable team is looking at it."
        )
    return f"{line} was accepted: it is being booked on its own."
