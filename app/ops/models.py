"""What ops keep of the pipeline's own doing: every ERP call made on behalf of a document."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, UTCDateTime, utcnow


class ErpCallRecord(Model):
    """One HTTP exchange with the ERP for a document, as `app.erp.client` reported it: written
    in a short transaction of its own, so a call whose unit of work rolled back (an ERP that did
    not answer) is still seen. No foreign key: a record must never fail the call it records.
    Kept for `app.ops.erp_calls.KEEP_DAYS`."""

    __tablename__ = "erp_calls"
    __table_args__ = (Index("ix_erp_calls_document_id_at", "document_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed: the console reads the last minutes' calls, the retention deletes old ones.
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    document_id: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(String(200))  # the path as a template
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(100))  # the transport error, if any
    duration_ms: Mapped[float] = mapped_column(Float)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The posting attempt the call belongs to (a `sending` one at the time), if any.
    attempt_no: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)  # the ERP's error message, shortened
