"""Goods receipts re-check held invoices at once: the portal follows the ERP's event feed and,
for each receipt, re-validates the held invoices on that PO, instead of waiting for the
scheduled re-check (`services.revalidate_due`).

The feed's position is kept in `erp_cursors` and moves in the same transaction as the
re-checks it caused, so a crash re-reads the same events (a re-check of a re-checked invoice
changes nothing). The cursor row is locked: two sweeps at once take turns, never skip.
"""

from __future__ import annotations

import datetime as dt

import structlog
from flask import g
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db import db, utcnow
from app.documents.models import Document, DocumentKind, DocumentState
from app.documents.queries import locked_document
from app.erp import get_erp
from app.erp.errors import ErpError
from app.matching.lookups import erp_pass
from app.matching.models import ErpCursor
from app.matching.services import revalidate

log = structlog.get_logger(__name__)

CURSOR = "erp-events"
RECEIPT = "receipt.created"
PAGE = 200
MAX_PAGES = 5  # per sweep; the next sweep goes on
RECEIPT_ACTOR = "system (goods receipt)"


def follow_receipts(now: dt.datetime | None = None) -> int:
    """Read the ERP's new events and re-check the held invoices on every PO a goods receipt
    arrived for; answers how many invoices were re-checked. An ERP that does not answer
    changes nothing (the next sweep reads the same events)."""
    cursor = _locked_cursor()
    checked = 0
    for _ in range(MAX_PAGES):
        try:
            events = get_erp().list_events(
                after=cursor.position, limit=PAGE, correlation_id=g.get("correlation_id")
            )
            po_numbers = {e.po_number for e in events if e.type == RECEIPT and e.po_number}
            checked += sum(_recheck_po(number) for number in sorted(po_numbers))
        except ErpError:
            # The cursor stays: these events are read again by the next sweep.
            log.warning("following the ERP's receipts stopped: no answer", after=cursor.position)
            break
        if events:
            cursor.position, cursor.updated_at = events[-1].id, now or utcnow()
        if len(events) < PAGE:
            break
    return checked


def _locked_cursor() -> ErpCursor:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            pg_insert(ErpCursor)
            .values(name=CURSOR, position=0, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
    elif db.session.get(ErpCursor, CURSOR) is None:
        db.session.add(ErpCursor(name=CURSOR, position=0, updated_at=utcnow()))
        db.session.flush()
    query = select(ErpCursor).where(ErpCursor.name == CURSOR).with_for_update()
    return db.session.scalars(query).one()


def _recheck_po(po_number: str) -> int:
    """Re-check every held invoice on the PO, each in its own savepoint; how many were."""
    held = db.session.scalars(
        select(Document.id).where(
            Document.po_number == po_number,
            Document.kind == DocumentKind.INVOICE,
            Document.state == DocumentState.ON_HOLD,
        )
    ).all()
    done = 0
    with erp_pass():  # the PO is read once for all its held invoices, after the receipt
        for document_id in held:
            with db.session.begin_nested():  # an ErpError rolls back this invoice only, and stops
                document = locked_document(document_id)
                if document is not None:
                    revalidate(document, actor=RECEIPT_ACTOR)
                    done += 1
    return done
