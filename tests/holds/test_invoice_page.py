"""The finance invoice page as a clerk reads it: the whole timeline (states and every action in
time order, in words), release offered only for codes a person may release, and keyboard
shortcuts that keep the queue's filter."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from app.db import db
from app.documents.models import Document, DocumentState
from app.holds import services
from app.intake import flip
from app.matching.findings import HoldCode, Severity
from app.matching.models import Hold, HoldStatus
from app.matching.services import revalidate
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.holds.test_queue import held  # noqa: F401 - the fixture
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import (  # noqa: F401 - lakeside is a fixture
    TODAY,
    invoice_for,
    lakeside,
    received_po,
    send,
)


def _open(document_id: int) -> list[Hold]:
    query = select(Hold).where(Hold.document_id == document_id, Hold.status == HoldStatus.OPEN)
    return list(db.session.scalars(query.order_by(Hold.id)))


def _extra_hold(document_id: int, code: HoldCode) -> Hold:
    hold = Hold(
        document_id=document_id,
        code=code,
        severity=Severity.HOLD,
        finance_message=f"{code.value} found",
        supplier_message="found",
        expected="x",
        actual="y",
    )
    db.session.add(hold)
    db.session.flush()
    return hold


def _section(page: str, start: str, end: str = "</ol>") -> str:
    part = page[page.index(start) :]
    return part[: part.index(end)]


def test_the_whole_timeline_shows_every_action_in_time_order(client, held, lakeside):  # noqa: F811
    document = db.session.get(Document, held)
    clerk = UserFactory(role=Role.FINANCE_CLERK, email="clerk.one@hospital.example")
    manager = UserFactory(role=Role.FINANCE_MANAGER, email="manager.one@hospital.example")
    supplier = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=lakeside)
    services.assign(document, clerk, clerk, None)
    services.comment(document, clerk, "Called their AR desk")
    question = services.ask(document, clerk, "Which price list applies?")
    services.answer(question, supplier, "The 2027 list, sent last week")
    line_id = document.canonical["lines"][0]["line_id"]
    services.dispute_line(document, clerk, line_id, "Two boxes arrived damaged")
    _extra_hold(held, HoldCode.DATE)  # the date rule passes: a re-check releases it
    revalidate(document)
    services.correct(
        document, clerk, services.Change("cost_centre", None, "CC-77"), "coded to ortho", None
    )
    price = next(h for h in _open(held) if h.code is HoldCode.PRICE)
    services.release(price, manager, "agreed price rise")
    db.session.flush()

    login(client, manager.email, PASSWORD)
    page = client.get(f"/finance/invoices/{held}").get_data(as_text=True)
    timeline = _section(page, 'aria-label="Whole timeline"')
    expected = [
        "Received",
        "Held",
        "Assigned to clerk.one@hospital.example",
        "Commented (internal)</strong> · clerk.one@hospital.example — Called their AR desk",
        "Asked the supplier</strong> · clerk.one@hospital.example — Which price list applies?",
        "The supplier answered",
        "The 2027 list, sent last week",
        f"Disputed line {line_id}</strong> · clerk.one@hospital.example — Two boxes arrived",
        "Released DATE by itself: the rule passes on a new check",
        "Corrected the cost centre: — → CC-77</strong> · clerk.one@hospital.example — coded",
        "Released the PRICE hold</strong> · manager.one@hospital.example — agreed price rise",
    ]
    positions = [timeline.index(text) for text in expected]
    assert positions == sorted(positions), timeline
    # A person's state change is told once (its document event), not again from the audit log.
    assert "Document." not in timeline


def test_the_supplier_timeline_still_shows_only_states(client, held, lakeside):  # noqa: F811
    from tests.intake.helpers import bearer

    document = db.session.get(Document, held)
    clerk = UserFactory(role=Role.FINANCE_CLERK)
    services.comment(document, clerk, "internal only: margin looks high")
    db.session.flush()
    answer = client.get(f"/api/v1/documents/{held}", headers=bearer(lakeside))
    assert "margin looks high" not in answer.get_data(as_text=True)


def test_a_partial_invoice_beyond_what_was_received_in_all_is_marked_on_its_line(
    client,
    lakeside,  # noqa: F811
    portal_erp,
):
    """The first invoice bills every received unit; a second bills one more unit of line 1 at
    the PO price: held for QTY_RECEIVED, and its line is marked though one unit alone is
    well within the receipt."""
    order = received_po(portal_erp)
    first = send(client, lakeside, invoice_for(lakeside, order, "PART-1"))
    run_jobs()
    assert document(first).state is DocumentState.VALIDATED
    line = next(line for line in order.lines if line.quantity_received > 1)
    body = flip.invoice_from_po(
        order,
        [flip.FlipLine(line.line_number, Decimal(1), line.unit_price)],
        supplier=flip.FlipSupplier(lakeside.id, lakeside.name, lakeside.erp_vendor_number),
        invoice_number="PART-2",
        issue_date=TODAY,
    )
    second = send(client, lakeside, body)
    run_jobs()
    assert HoldCode.QTY_RECEIVED in {h.code for h in _open(second)}

    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)
    page = client.get(f"/finance/invoices/{second}").get_data(as_text=True)
    table = _section(page, '<table class="side-by-side">', "</table>")
    (row,) = re.findall(r"<tr class=\"held-line\">.*?</tr>", table, re.S)
    assert row.count('class="num variance"') >= 3  # quantity, received, billed in all
    assert f"{line.quantity_received + 1}" in row  # billed in all
    assert "QTY RECEIVED" in row
    assert f'class="num variance">{line.unit_price}' not in row  # the price is the PO's


# -- the queue's order from the invoice page, and holds no person releases ---------------------


def _held_invoice(number: str, *codes: HoldCode, received=None):
    from app.db import utcnow
    from tests.factories.documents import DocumentFactory

    at = received or utcnow()
    invoice = DocumentFactory(
        document_number=number, created_at=at, timeline=[(DocumentState.ON_HOLD, at)]
    )
    for code in codes:
        _extra_hold(invoice.id, code)
    return invoice


def test_previous_and_next_follow_the_queue_with_its_filter(client):
    import datetime as dt

    from app.db import utcnow

    start = utcnow() - dt.timedelta(hours=1)
    a = _held_invoice("NAV-A", HoldCode.PRICE, received=start)
    b = _held_invoice("NAV-B", HoldCode.DATE, received=start + dt.timedelta(minutes=1))
    c = _held_invoice("NAV-C", HoldCode.PRICE, received=start + dt.timedelta(minutes=2))
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)

    queue = client.get("/finance/holds?code=PRICE").get_data(as_text=True)
    assert f'href="/finance/invoices/{c.id}?code=PRICE"' in queue  # rows keep the filter
    page = client.get(f"/finance/invoices/{c.id}?code=PRICE").get_data(as_text=True)
    assert f'href="/finance/invoices/{a.id}?code=PRICE" rel="next"' in page  # B is not PRICE
    assert 'rel="prev"' not in page  # the newest is first
    assert 'href="/finance/holds?code=PRICE" id="back-to-queue"' in page
    page = client.get(f"/finance/invoices/{a.id}?code=PRICE").get_data(as_text=True)
    assert f'href="/finance/invoices/{c.id}?code=PRICE" rel="prev"' in page
    assert 'rel="next"' not in page
    everything = client.get(f"/finance/invoices/{c.id}").get_data(as_text=True)
    assert f'href="/finance/invoices/{b.id}" rel="next"' in everything
    oldest = client.get(f"/finance/invoices/{c.id}?sort=oldest").get_data(as_text=True)
    assert f'href="/finance/invoices/{b.id}?sort=oldest" rel="prev"' in oldest
    assert "<kbd>j</kbd></dt><dd>next invoice in the queue" in page


def test_an_action_returns_to_the_invoice_with_the_queue_filter_kept(client):
    invoice = _held_invoice("NAV-R", HoldCode.PRICE, HoldCode.DATE)
    hold = _open(invoice.id)[0]
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)
    url = f"/finance/invoices/{invoice.id}?code=PRICE&sort=amount"
    page = client.get(url).get_data(as_text=True)
    assert f'action="/finance/holds/{hold.id}/release?code=PRICE&amp;sort=amount"' in page
    answer = client.post(
        f"/finance/holds/{hold.id}/release?code=PRICE&sort=amount",
        data={"reason": "fine", "version": hold.version, "csrf_token": csrf_token(page)},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(url)


def test_a_hold_no_person_may_release_offers_no_release_and_says_why(client):
    invoice = _held_invoice("NAV-S", HoldCode.SUPPLIER_INACTIVE, HoldCode.PRICE)
    inactive, price = _open(invoice.id)
    user = UserFactory(role=Role.FINANCE_MANAGER)
    login(client, user.email, PASSWORD)
    page = client.get(f"/finance/invoices/{invoice.id}").get_data(as_text=True)
    assert f"/finance/holds/{inactive.id}/release" not in page
    assert f"/finance/holds/{price.id}/release" in page
    assert "Not released by hand." in page
    assert "once procurement reactivates the supplier" in page
    # And the action itself still refuses it (the page is not the only guard).
    answer = client.post(
        f"/finance/holds/{inactive.id}/release",
        data={"reason": "try", "csrf_token": csrf_token(page)},
    )
    assert answer.status_code == 400
    db.session.refresh(inactive)
    assert inactive.status is HoldStatus.OPEN


def test_the_original_is_shown_readably_csv_as_a_table_and_xml_indented(client):
    from tests.factories.documents import DocumentFactory, RawPayloadFactory
    from tests.formats.helpers import local

    body = local("csv_two_invoices.csv")
    csv_payload = RawPayloadFactory(body=body, size=len(body), content_type="text/csv")
    as_csv = DocumentFactory(payload_id=csv_payload.id, sender_org_id=csv_payload.sender_org_id)
    xml = b'<Invoice xmlns="urn:x"><ID>X-1</ID><Note>a &lt; b</Note></Invoice>'
    xml_payload = RawPayloadFactory(body=xml, size=len(xml), content_type="application/xml")
    as_xml = DocumentFactory(payload_id=xml_payload.id, sender_org_id=xml_payload.sender_org_id)
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)

    page = client.get(f"/finance/invoices/{as_csv.id}").get_data(as_text=True)
    table = _section(page, '<table class="original">', "</table>")
    assert "<th>invoice_number</th>" in table
    assert "<td>Acme Medical, Inc.</td>" in table
    assert "<td>Gauze 4&#34; x 4&#34;, sterile</td>" in table
    page = client.get(f"/finance/invoices/{as_xml.id}").get_data(as_text=True)
    shown = _section(page, '<pre class="original"', "</pre>")
    assert "&lt;Invoice xmlns=&#34;urn:x&#34;&gt;\n  &lt;ID&gt;X-1&lt;/ID&gt;" in shown
    assert "a &amp;lt; b" in shown  # the entity as sent, escaped once more for the page


def test_the_system_and_dispute_actions_read_in_words():
    from app.holds.timeline import described

    assert described("invoice.line_accepted", {"line": "2"}) == (
        "Accepted disputed line 2: it is booked on its own",
        "",
    )
    assert described(
        "invoice.line_posted", {"line": "2", "amount": "40.00", "ap_invoice_id": "AP-9"}
    ) == ("Disputed line 2 posted once settled", "40.00 booked in the ERP as AP-9")
    rejected = {"findings": [{"code": "SUPPLIER_INACTIVE", "finance": "Vendor V1009 is inactive"}]}
    assert described("document.rejected_by_rules", rejected) == (
        "Rejected by the checks",
        "SUPPLIER INACTIVE: Vendor V1009 is inactive",
    )
