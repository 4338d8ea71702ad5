"""A disputed line while the rest proceeds: the invoice is booked in the ERP without the line
(its amount stays held, the supplier reads which line and why), and once a person releases the
dispute (the line accepted) the line is booked on its own, once. Against the real mock ERP."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import DocumentState
from app.erp.interface import PoStatus, PurchaseOrder
from app.holds import queries
from app.holds import services as holds
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.orgs.roles import Role
from app.posting import services
from app.posting.models import PostingAttempt
from tests.factories.accounts import UserFactory
from tests.intake.helpers import bearer, document, run_jobs
from tests.matching.test_validate import invoice_for, send


def _order(erp) -> PurchaseOrder:
    """A received PO of V1001 with at least two received lines (one to dispute, one to book)."""
    orders = erp.list_purchase_orders(vendor_number="V1001")
    return next(
        o
        for o in orders
        if o.status == PoStatus.RECEIVED
        and sum(1 for line in o.lines if line.quantity_received > 0) >= 2
    )


def _held_twice_the_price(client, lakeside, erp) -> int:
    number = f"DL-{uuid.uuid4().hex[:10]}"
    document_id = send(client, lakeside, invoice_for(lakeside, _order(erp), number, "2"))
    run_jobs()
    assert document(document_id).state is DocumentState.ON_HOLD
    return document_id


def _holds(document_id: int) -> list[Hold]:
    db.session.expire_all()
    query = select(Hold).where(Hold.document_id == document_id).order_by(Hold.id)
    return list(db.session.scalars(query))


def _creates(document_id: int) -> int:
    return (
        db.session.scalar(select(func.count()).where(PostingAttempt.document_id == document_id))
        or 0
    )


def test_the_rest_is_booked_without_the_disputed_line_which_is_booked_once_when_released(
    client, lakeside, portal_erp, settings
):
    erp = portal_erp.client()
    document_id = _held_twice_the_price(client, lakeside, erp)
    canonical = document(document_id).canonical
    disputed = canonical["lines"][1]
    amount = Decimal(disputed["line_extension_amount"])
    total = Decimal(canonical["totals"]["payable"])
    clerk, other = UserFactory(role=Role.FINANCE_MANAGER), UserFactory(role=Role.FINANCE_MANAGER)

    dispute = holds.dispute_line(document(document_id), clerk, disputed["line_id"], "damaged")
    db.session.flush()
    for hold in _holds(document_id):
        if hold.code is not HoldCode.DISPUTE:
            holds.release(hold, clerk, "price agreed with the buyer")
    # Only the disputed line is held now: the rest of the invoice goes on.
    assert document(document_id).state is DocumentState.VALIDATED
    assert [h.code for h in _holds(document_id) if h.status is HoldStatus.OPEN] == [
        HoldCode.DISPUTE
    ]

    assert services.post(document_id) == "posted"
    found = document(document_id)
    assert found.state is DocumentState.POSTED
    assert f"without disputed line(s) {disputed['line_id']}" in found.timeline[-1].reason
    booked = erp.find_ap_invoice("V1001", found.document_number)
    assert booked is not None
    assert booked.total_amount == total - amount
    assert len(booked.lines) == len(canonical["lines"]) - 1
    # The disputed amount is still shown as held, to finance and to the supplier.
    api = client.get(f"/api/v1/documents/{document_id}", headers=bearer(lakeside)).get_json()
    [shown] = [h for h in api["holds"] if h["code"] == "DISPUTE"]
    assert shown["status"] == "OPEN"
    assert f"Line {disputed['line_id']}" in shown["message"]
    assert "damaged" in shown["message"]
    assert db.session.get(Hold, dispute.id).amount_at_risk == amount
    # Still finance's work: counted on the queue and listed under DISPUTE, though posted.
    assert queries.counts_by_code().get(HoldCode.DISPUTE) == 1
    listed = queries.queue(queries.QueueFilters(code=HoldCode.DISPUTE))
    assert [(row.document.id, row.document.state) for row in listed] == [
        (document_id, DocumentState.POSTED)
    ]
    assert document_id not in [row.document.id for row in queries.queue(queries.QueueFilters())]

    # Released by another person: the line is accepted and booked on its own, once.
    holds.release(db.session.get(Hold, dispute.id), other, "delivered after all")
    assert db.session.get(Hold, dispute.id).followup == services.OWED
    assert services.post(document_id) == "lines posted"
    settled = db.session.get(Hold, dispute.id)
    assert settled.followup == services.LINE_POSTED
    line_booked = erp.find_ap_invoice("V1001", f"{found.document_number}-L{disputed['line_id']}")
    assert line_booked is not None
    assert line_booked.id == settled.followup_ap_invoice_id
    assert line_booked.total_amount == amount
    assert booked.total_amount + line_booked.total_amount == total
    # The job again, or the sweeper's resend: nothing more is booked.
    assert services.post(document_id) == "POSTED"
    assert _creates(document_id) == 1
    assert (
        db.session.scalar(select(func.count()).where(AuditEntry.action == "invoice.line_posted"))
        == 1
    )


def test_a_dispute_released_before_posting_books_the_invoice_whole(
    client, lakeside, portal_erp, settings
):
    erp = portal_erp.client()
    document_id = _held_twice_the_price(client, lakeside, erp)
    canonical = document(document_id).canonical
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    dispute = holds.dispute_line(
        document(document_id), manager, canonical["lines"][0]["line_id"], "wrong ward"
    )
    db.session.flush()
    holds.release(dispute, UserFactory(role=Role.FINANCE_MANAGER), "it was the right ward")
    for hold in _holds(document_id):
        if hold.status is HoldStatus.OPEN:
            holds.release(hold, manager, "price agreed")
    assert document(document_id).state is DocumentState.VALIDATED
    assert services.post(document_id) == "posted"
    booked = erp.find_ap_invoice("V1001", document(document_id).document_number)
    assert booked is not None
    assert booked.total_amount == Decimal(canonical["totals"]["payable"])
    assert db.session.get(Hold, dispute.id).followup is None
    assert services.post(document_id) == "POSTED"


def test_a_dispute_released_while_the_booking_is_out_is_owed_when_it_settles(
    client, lakeside, portal_erp, settings
):
    """The claim left the line out; the dispute is released before the ERP's answer is
    recorded: settling the booking marks the line owed, and the next run books it."""
    erp = portal_erp.client()
    document_id = _held_twice_the_price(client, lakeside, erp)
    canonical = document(document_id).canonical
    disputed = canonical["lines"][1]
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    dispute = holds.dispute_line(document(document_id), manager, disputed["line_id"], "short")
    db.session.flush()
    for hold in _holds(document_id):
        if hold.code is not HoldCode.DISPUTE:
            holds.release(hold, manager, "price agreed")
    claim, why = services.claim_attempt(document_id)
    assert claim is not None, why
    assert len(claim.body["lines"]) == len(canonical["lines"]) - 1
    holds.release(dispute, UserFactory(role=Role.FINANCE_MANAGER), "accepted")
    assert db.session.get(Hold, dispute.id).followup is None  # the booking is still out
    assert services.settle(claim, services.call_erp(claim))[0] == "posted"
    assert db.session.get(Hold, dispute.id).followup == services.OWED
    assert services.post(document_id) == "lines posted"
    number = f"{document(document_id).document_number}-L{disputed['line_id']}"
    line_booked = erp.find_ap_invoice("V1001", number)
    assert line_booked is not None
    assert line_booked.total_amount == Decimal(disputed["line_extension_amount"])


def test_a_lost_answer_for_the_accepted_line_is_sent_again_with_the_same_key(
    client, lakeside, fake_portal_erp, settings
):
    from app.erp.errors import ErpUnavailable

    document_id = _held_twice_the_price(client, lakeside, fake_portal_erp)
    disputed = document(document_id).canonical["lines"][1]
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    dispute = holds.dispute_line(document(document_id), manager, disputed["line_id"], "damaged")
    db.session.flush()
    for hold in _holds(document_id):
        if hold.code is not HoldCode.DISPUTE:
            holds.release(hold, manager, "price agreed")
    assert services.post(document_id) == "posted"
    holds.release(dispute, UserFactory(role=Role.FINANCE_MANAGER), "delivered after all")

    fake_portal_erp.calls.clear()
    fake_portal_erp.fail_next(
        ErpUnavailable("The ERP did not answer in time.", reason="read_timeout"),
        "create_ap_invoice",
    )
    assert services.post(document_id) == "retry"
    assert db.session.get(Hold, dispute.id).followup == services.OWED
    assert services.post(document_id) == "lines posted"
    keys = [call.args[1] for call in fake_portal_erp.calls_to("create_ap_invoice")]
    assert keys == [services.line_key(document_id, dispute.id)] * 2
    assert db.session.get(Hold, dispute.id).followup == services.LINE_POSTED
    assert services.post(document_id) == "POSTED"
    assert len(fake_portal_erp.calls_to("create_ap_invoice")) == 2
