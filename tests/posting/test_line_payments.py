"""A disputed line accepted after its invoice was booked is its own AP invoice in the ERP, paid
on its own: payment sync follows it (once, at most every PAYMENT_SYNC_MINUTES), finance's
timeline says so, and the supplier reads when and how the line was paid. Against the real mock
ERP, whose admin mark-paid pays the line as it pays any AP invoice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import schemathesis
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.db import db, utcnow
from app.documents.models import DocumentState
from app.holds import services as holds
from app.holds.timeline import whole_timeline
from app.matching.findings import HoldCode
from app.matching.models import Hold
from app.orgs.roles import Role
from app.posting import payments, services
from app.posting.models import PostingAttempt
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import bearer, document
from tests.posting.test_disputed_lines import _held_twice_the_price, _holds

PAID_ON = "2026-12-04"


@dataclass(frozen=True)
class BookedLine:
    document_id: int
    hold_id: int
    line: str
    ap_invoice_id: int  # the line's own AP invoice
    invoice_ap_invoice_id: int  # the rest of the invoice


def _booked_line(client, lakeside, erp) -> BookedLine:
    """An invoice booked without its disputed second line, then the line accepted and booked
    on its own."""
    document_id = _held_twice_the_price(client, lakeside, erp)
    line = document(document_id).canonical["lines"][1]["line_id"]
    clerk, other = UserFactory(role=Role.FINANCE_MANAGER), UserFactory(role=Role.FINANCE_MANAGER)
    dispute = holds.dispute_line(document(document_id), clerk, line, "damaged")
    db.session.flush()
    for hold in _holds(document_id):
        if hold.code is not HoldCode.DISPUTE:
            holds.release(hold, clerk, "price agreed with the buyer")
    assert services.post(document_id) == "posted"
    holds.release(db.session.get(Hold, dispute.id), other, "delivered after all")
    assert services.post(document_id) == "lines posted"
    settled = db.session.get(Hold, dispute.id)
    assert settled.followup == services.LINE_POSTED
    attempt = db.session.scalar(
        select(PostingAttempt).where(PostingAttempt.document_id == document_id)
    )
    return BookedLine(
        document_id, dispute.id, line, settled.followup_ap_invoice_id, attempt.erp_ap_invoice_id
    )


def _pay(portal_erp, ap_invoice_id: int, reference: str, date: str = PAID_ON) -> None:
    answer = portal_erp.admin(
        "POST", f"/admin/ap-invoices/{ap_invoice_id}/pay", {"reference": reference, "date": date}
    )
    assert answer.status_code == 200, answer.text


def _line_paid_entries() -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "invoice.line_paid")
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def _documented(client, answer) -> None:
    """The answer is as the OpenAPI document describes it (the fuzz test never sees a paid
    line: it needs an ERP that paid one)."""
    spec = schemathesis.openapi.from_dict(client.get("/api/openapi.json").get_json())
    spec["/api/v1/documents/{id}"]["GET"].validate_response(answer)


def _dispute(api: dict) -> dict:
    [shown] = [hold for hold in api["holds"] if hold["code"] == "DISPUTE"]
    return shown


def test_a_booked_line_paid_in_the_erp_is_marked_paid_once_and_the_supplier_reads_it(
    client, lakeside, portal_erp, settings
):
    booked = _booked_line(client, lakeside, portal_erp.client())
    headers = bearer(lakeside)
    api = client.get(f"/api/v1/documents/{booked.document_id}", headers=headers).get_json()
    assert _dispute(api)["settlement"] == {"state": "booked", "paid_on": None, "reference": None}
    assert all(h["settlement"] is None for h in api["holds"] if h["code"] != "DISPUTE")

    _pay(portal_erp, booked.ap_invoice_id, "ACH-123")
    assert payments.sync_due(utcnow()) == 0  # no invoice became PAID: only its line was paid
    hold = db.session.get(Hold, booked.hold_id)
    assert (hold.followup_paid_on, hold.followup_payment_reference) == (
        dt.date(2026, 12, 4),
        "ACH-123",
    )
    [entry] = _line_paid_entries()
    assert entry.actor_label == "system"
    assert entry.target_id == str(booked.document_id)
    assert entry.organization_id == lakeside.id
    assert entry.details["line"] == booked.line
    assert entry.details["ap_invoice_id"] == booked.ap_invoice_id
    assert (entry.details["paid_on"], entry.details["reference"]) == (PAID_ON, "ACH-123")
    assert document(booked.document_id).state is DocumentState.POSTED

    # Later sweeps, past PAYMENT_SYNC_MINUTES: the line is known paid, nothing changes.
    minutes = dt.timedelta(minutes=int(settings["PAYMENT_SYNC_MINUTES"]))
    later = utcnow() + minutes
    assert payments.sync(later) == payments.Synced(invoices=0, lines=0)
    assert len(_line_paid_entries()) == 1

    # The invoice's own payment is its main AP invoice's, whatever its line's.
    _pay(portal_erp, booked.invoice_ap_invoice_id, "ACH-456", "2026-12-06")
    assert payments.sync(later + minutes) == payments.Synced(invoices=1, lines=0)
    found = document(booked.document_id)
    assert found.state is DocumentState.PAID
    assert (found.paid_on, found.payment_reference) == (dt.date(2026, 12, 6), "ACH-456")
    assert db.session.get(Hold, booked.hold_id).followup_payment_reference == "ACH-123"
    assert len(_line_paid_entries()) == 1

    # Finance's whole timeline says it in words.
    paid = portal_erp.client().get_payment(booked.ap_invoice_id).amount  # its tax included
    told = [(entry.what, entry.detail) for entry in whole_timeline(found)]
    assert (
        f"Disputed line {booked.line} paid",
        f"{paid:.2f} paid on {PAID_ON}, reference ACH-123",
    ) in told

    # The supplier reads it, through the API and on its page; another supplier finds nothing.
    answer = client.get(f"/api/v1/documents/{booked.document_id}", headers=headers)
    _documented(client, answer)
    api = answer.get_json()
    assert api["payment"] == {"paid_on": "2026-12-06", "reference": "ACH-456"}
    assert _dispute(api)["settlement"] == {
        "state": "paid",
        "paid_on": PAID_ON,
        "reference": "ACH-123",
    }
    stranger = bearer(OrganizationFactory(supplier=True, erp_vendor_number="V1002"))
    assert client.get(f"/api/v1/documents/{booked.document_id}", headers=stranger).status_code == (
        404
    )
    supplier = UserFactory(role__organization=lakeside)
    login(client, supplier.email, PASSWORD)
    page = client.get(f"/documents/{booked.document_id}").get_data(as_text=True)
    assert (
        f"Line {booked.line} was accepted and booked on its own; paid on {PAID_ON}, "
        "reference ACH-123." in page
    )
    assert "delivered after all" not in page  # the release reason is finance's


def test_a_line_not_yet_paid_is_asked_again_only_after_payment_sync_minutes(
    client, lakeside, portal_erp, settings
):
    booked = _booked_line(client, lakeside, portal_erp.client())
    minutes = dt.timedelta(minutes=int(settings["PAYMENT_SYNC_MINUTES"]))
    first = utcnow()
    assert payments.sync(first).lines == 0  # booked, not paid yet
    assert db.session.get(Hold, booked.hold_id).followup_checked_at == first

    _pay(portal_erp, booked.ap_invoice_id, "CHK-77")
    # Asked a moment ago: left alone until PAYMENT_SYNC_MINUTES have passed.
    soon = first + minutes - dt.timedelta(seconds=1)
    assert payments.sync(soon).lines == 0
    hold = db.session.get(Hold, booked.hold_id)
    assert (hold.followup_checked_at, hold.followup_paid_on) == (first, None)
    assert _line_paid_entries() == []

    assert payments.sync(first + minutes).lines == 1
    hold = db.session.get(Hold, booked.hold_id)
    assert (hold.followup_checked_at, hold.followup_paid_on) == (
        first + minutes,
        dt.date(2026, 12, 4),
    )
    assert len(_line_paid_entries()) == 1


def test_a_line_refused_or_still_owed_is_not_asked_about(client, lakeside, portal_erp, settings):
    booked = _booked_line(client, lakeside, portal_erp.client())
    hold = db.session.get(Hold, booked.hold_id)
    hold.followup = services.LINE_REFUSED
    db.session.flush()
    assert payments.sync(utcnow()).lines == 0
    assert db.session.get(Hold, booked.hold_id).followup_checked_at is None
    api = client.get(f"/api/v1/documents/{booked.document_id}", headers=bearer(lakeside))
    assert _dispute(api.get_json())["settlement"]["state"] == "refused"
    assert (
        db.session.scalar(select(func.count()).where(AuditEntry.action == "invoice.line_paid")) == 0
    )
