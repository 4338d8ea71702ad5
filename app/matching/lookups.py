"""ERP look-ups memoized for one pass of work (one validation, one re-check sweep, the held
invoices of one PO a goods receipt re-checks): N invoices on one PO read it once, and a pass
never sees data older than its own start. Outside a pass every look-up goes to the ERP.

The memo lives on `flask.g` for the pass only (`erp_pass`), not for the app context, so a job
doing two passes (the sweep's housekeeping) reads fresh data in each. Errors are not kept: an
ERP that did not answer is asked again."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import g

T = TypeVar("T")
MEMO = "erp_lookups"


@contextmanager
def erp_pass() -> Iterator[None]:
    """Memoize ERP look-ups until the block ends; a pass inside a pass shares the outer one."""
    if g.get(MEMO) is not None:
        yield
        return
    setattr(g, MEMO, {})
    try:
        yield
    finally:
        g.pop(MEMO, None)


def memoized(key: Hashable, fetch: Callable[[], T]) -> T:
    """`fetch()`, once per key within a pass."""
    memo: dict[Hashable, Any] | None = g.get(MEMO)
    if memo is None:
        return fetch()
    if key not in memo:
        memo[key] = fetch()
    return memo[key]
