"""The finance queue in the browser's terms: held invoices with their counts per hold code, one
invoice with its holds explained, release (reason required, the manager's limit, a second
release of the same hold refused) and reject back to the supplier, who reads why."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.db import db
from app.documents.models import DocumentState
from app.matching.findings import HoldCode
from app.matching.models import Hold, HoldStatus
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.intake.helpers import bearer, document, run_jobs
from tests.matching.test_validate import invoice_for, lakeside, received_po, send  # noqa: F401


@pytest.fixture
def held(client, lakeside, portal_erp) -> int:  # noqa: F811 - the fixture imported above
    """An invoice at three times the PO price: held for PRICE."""
    order = received_po(portal_erp)
    document_id = send(client, lakeside, invoice_for(lakeside, order, "HQ-1", price_factor="3"))
    run_jobs()
    assert document(document_id).state is DocumentState.ON_HOLD
    return document_id


def _signed_in(client, role: Role):
    user = UserFactory(role=role)
    login(client, user.email, PASSWORD)
    return user


def _open_holds(document_id: int) -> list[Hold]:
    query = select(Hold).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
    return list(db.session.scalars(query))


def test_the_queue_shows_held_invoices_with_counts_per_code(client, held):
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get("/finance/holds").get_data(as_text=True)
    assert "HQ-1" in page
    assert "PRICE (1)" in page
    filtered = client.get("/finance/holds?code=DUPLICATE").get_data(as_text=True)
    assert "HQ-1" not in filtered
    assert "No invoice is held for DUPLICATE." in filtered


def test_the_invoice_page_explains_each_hold_with_expected_actual_and_risk(client, held):
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    hold = _open_holds(held)[0]
    assert hold.finance_message in page
    assert hold.expected in page
    assert hold.actual in page


def test_a_manager_releases_above_the_clerk_limit_and_the_invoice_is_validated(
    app, client, held, monkeypatch
):
    monkeypatch.setitem(app.config, "FINANCE_RELEASE_LIMIT", 0)
    holds = _open_holds(held)
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    refused = client.post(
        f"/finance/holds/{holds[0].id}/release",
        data={"reason": "agreed price rise", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "a finance manager must release it" in refused.get_data(as_text=True)
    assert len(_open_holds(held)) == len(holds)

    client.post("/logout", data={"csrf_token": csrf_token(page)})
    _signed_in(client, Role.FINANCE_MANAGER)
    for hold in holds:
        page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
        client.post(
            f"/finance/holds/{hold.id}/release",
            data={"reason": "agreed price rise", "csrf_token": csrf_token(page)},
        )
    assert _open_holds(held) == []
    assert document(held).state is DocumentState.VALIDATED


def test_a_release_needs_a_reason_and_the_same_hold_is_not_released_twice(client, held):
    _signed_in(client, Role.FINANCE_MANAGER)
    hold = _open_holds(held)[0]
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    token = csrf_token(page)
    no_reason = client.post(f"/finance/holds/{hold.id}/release", data={"csrf_token": token})
    assert no_reason.status_code == 400
    first = client.post(
        f"/finance/holds/{hold.id}/release", data={"reason": "ok", "csrf_token": token}
    )
    assert first.status_code == 302
    again = client.post(
        f"/finance/holds/{hold.id}/release",
        data={"reason": "ok", "csrf_token": token},
        follow_redirects=True,
    )
    assert "already resolved" in again.get_data(as_text=True)


def test_a_rejected_invoice_tells_the_supplier_why(client, held, lakeside):  # noqa: F811
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    client.post(
        f"/finance/invoices/{held}/reject",
        data={"code": "PRI", "note": "Bill at the PO price.", "csrf_token": csrf_token(page)},
    )
    assert document(held).state is DocumentState.REJECTED
    answer = client.get(f"/api/v1/documents/{held}", headers=bearer(lakeside))
    assert answer.json["errors"][0]["code"] == "PRI"
    assert "Bill at the PO price." in answer.json["errors"][0]["message"]


def test_suppliers_cannot_open_the_queue(client, lakeside):  # noqa: F811
    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=lakeside)
    login(client, user.email, PASSWORD)
    assert client.get("/finance/holds").status_code == 403


def test_hold_codes_are_listed_by_name(client, held):
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get("/finance/holds").get_data(as_text=True)
    assert HoldCode.PRICE.value in page


def test_the_queue_shows_first_pass_and_exception_rates(client, lakeside, portal_erp):  # noqa: F811
    from app.db import utcnow
    from app.holds.queries import kpis

    order = received_po(portal_erp)
    send(client, lakeside, invoice_for(lakeside, order, "KP-1"))  # clean
    send(client, lakeside, invoice_for(lakeside, order, "KP-2", price_factor="3"))  # held
    run_jobs()
    figures = kpis(utcnow() - dt.timedelta(days=1))
    assert (figures.checked, figures.first_pass, figures.held) == (2, 1, 1)
    assert figures.first_pass_rate == 0.5
    assert figures.median_hours is not None
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get("/finance/holds/kpis?fragment=1").get_data(as_text=True)
    assert "First-pass match" in page
    assert "50%" in page


def test_the_invoice_page_shows_its_lines_beside_the_po_with_the_variance_marked(client, held):
    _signed_in(client, Role.FINANCE_CLERK)
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    assert "Lines beside the purchase order" in page
    assert 'class="num variance"' in page  # three times the PO price
    assert "no matching PO line" not in page


def test_with_the_erp_down_the_invoice_page_still_opens_and_says_so(client, held, portal_erp):
    _signed_in(client, Role.FINANCE_CLERK)
    portal_erp.set_faults(error_rate=1.0)
    try:
        page = client.get(f"/finance/invoices/{held}")
    finally:
        portal_erp.clear_faults()
    assert page.status_code == 200
    assert "The ERP is not answering" in page.get_data(as_text=True)


def test_the_counts_run_serially_without_jit_for_the_rest_of_the_request_only():
    """Worker start-up and JIT compilation cost the counts more than they save at a million
    invoices (bench/queue_bench.py); the settings are local to the transaction."""
    from sqlalchemy import text

    from app.holds import queries

    queries.counts_by_code()
    assert db.session.execute(text("SHOW jit")).scalar() == "off"
    assert db.session.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
    with db.engine.connect() as other:  # another transaction keeps the server's settings
        assert other.execute(text("SHOW max_parallel_workers_per_gather")).scalar() != "0"
