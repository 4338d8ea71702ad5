"""The supplier's document pages: send a file, invoice a PO, follow documents; scoped to the org."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.db import db
from app.documents.models import Channel, Document, DocumentState, RawPayload
from app.matching.findings import HoldCode
from app.matching.queries import holds_of
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import document, run_jobs


def _signed_in(client, org, role=Role.SUPPLIER_USER, email="ap@acme.example"):
    UserFactory(email=email, role=role, role__organization=org)
    login(client, email, PASSWORD)
    return client


@pytest.fixture
def acme():
    return OrganizationFactory(supplier=True, erp_vendor_number="V1006")


def _upload(client, body: bytes, filename: str, kind="invoice"):
    token = csrf_token(client.get("/documents/upload").get_data(as_text=True))
    return client.post(
        "/documents/upload",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(body), filename)},
        content_type="multipart/form-data",
    )


def _ids() -> list[int]:
    return list(db.session.scalars(select(Document.id).order_by(Document.id)))


def test_a_supplier_uploads_a_file_and_follows_it_to_normalized(client, acme):
    acme_id = acme.id
    _signed_in(client, acme)
    response = _upload(client, local("csv_two_invoices.csv"), "march.csv")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/documents")
    ids = _ids()
    assert len(ids) == 2
    raw = db.session.scalar(select(RawPayload))
    assert (raw.channel, raw.filename, raw.content_type) == (
        Channel.UPLOAD,
        "march.csv",
        "text/csv",
    )
    run_jobs()
    assert {document(i).supplier_org_id for i in ids} == {acme_id}
    listing = client.get("/documents").get_data(as_text=True)
    assert "INV-1001" in listing
    assert "INV-1002" in listing
    assert "normalized" in listing
    detail = client.get(f"/documents/{ids[0]}").get_data(as_text=True)
    assert "Timeline" in detail
    assert "41.50 USD" in detail


def test_an_upload_with_field_errors_shows_every_error_on_the_document(client, acme):
    _signed_in(client, acme)
    _upload(
        client,
        b'{"invoice_number": "X-1", "currency": "EUR", "supplier": {"name": "A"}}',
        "bad.json",
    )
    run_jobs()
    document_id = _ids()[0]
    assert document(document_id).state is DocumentState.REJECTED
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Why it was rejected" in page
    for path in ("issue_date", "lines", "totals"):
        assert f"<code>{path}</code>" in page


def test_an_unreadable_file_is_refused_on_the_form(client, acme):
    _signed_in(client, acme)
    response = _upload(client, b"<Invoice><oops></Invoice>", "bad.xml")
    assert response.status_code == 400
    assert "not well-formed XML" in response.get_data(as_text=True)
    assert _ids() == []


def test_the_raw_file_downloads_as_an_attachment(client, acme):
    _signed_in(client, acme)
    body = local("json_two_documents.json")
    _upload(client, body, "docs.json")
    response = client.get(f"/documents/{_ids()[0]}/payload")
    assert response.data == body
    assert response.headers["Content-Disposition"] == 'attachment; filename="docs.json"'
    assert response.mimetype == "application/octet-stream"


def test_other_organizations_documents_are_404(client, acme):
    other = OrganizationFactory(supplier=True)
    _signed_in(client, other, email="ap@other.example")
    _upload(client, local("json_two_documents.json"), "docs.json")
    client.post(
        "/logout", data={"csrf_token": csrf_token(client.get("/documents").get_data(as_text=True))}
    )
    _signed_in(client, acme)
    document_id = _ids()[0]
    assert client.get(f"/documents/{document_id}").status_code == 404
    assert client.get(f"/documents/{document_id}/payload").status_code == 404
    assert "J-1" not in client.get("/documents").get_data(as_text=True)


def test_staff_cannot_open_the_supplier_document_pages(client):
    UserFactory(email="clerk@hospital.example", role=Role.FINANCE_CLERK)
    login(client, "clerk@hospital.example", PASSWORD)
    assert client.get("/documents").status_code == 403
    assert client.get("/documents/upload").status_code == 403


# -- PO flip ---------------------------------------------------------------------------------


def _open_po(fake_erp, vendor="V1006"):
    return next(
        po
        for po in fake_erp.purchase_orders.values()
        if po.vendor_number == vendor and po.status == "OPEN" and len(po.lines) > 1
    )


def test_a_supplier_flips_an_open_po_into_an_invoice(client, acme, fake_erp):
    _signed_in(client, acme)
    order = _open_po(fake_erp)
    chooser = client.get("/documents/from-po", headers={"X-Correlation-ID": "flip-1"})
    assert order.number in chooser.get_data(as_text=True)
    assert fake_erp.calls_to("list_purchase_orders")[-1].kwargs["correlation_id"] == "flip-1"

    form = client.get(f"/documents/from-po/{order.number}").get_data(as_text=True)
    first, second = order.lines[0], order.lines[1]
    assert f'value="{first.unit_price}"' in form  # prices prefilled from the PO
    data = {
        "csrf_token": csrf_token(form),
        "invoice_number": "FLIP-1",
        "issue_date": "2026-03-01",
        "tax_total": "1.00",
        "lines-0-po_line": str(first.line_number),
        "lines-0-include": "y",
        "lines-0-quantity": "2",
        "lines-0-unit_price": str(first.unit_price),
        "lines-1-po_line": str(second.line_number),
        "lines-1-quantity": str(second.quantity),
        "lines-1-unit_price": str(second.unit_price),  # not included: no checkbox
    }
    response = client.post(f"/documents/from-po/{order.number}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    document_id = _ids()[0]
    run_jobs()
    invoice = document(document_id)
    # Normalized, then matched: the PO is OPEN, nothing on it was received yet, so the 3-way
    # check holds the invoice for finance.
    assert invoice.state is DocumentState.ON_HOLD
    assert [hold.code for hold in holds_of(document_id)] == [HoldCode.QTY_RECEIVED]
    expected = (2 * first.unit_price).quantize(Decimal("0.01")) + Decimal("1.00")
    assert invoice.total_amount == expected
    assert invoice.po_number == order.number
    lines = invoice.canonical["lines"]
    assert [(line["po_line"], Decimal(line["quantity"])) for line in lines] == [
        (str(first.line_number), 2)
    ]
    assert db.session.scalar(select(RawPayload.channel)) is Channel.PO_FLIP


def test_another_suppliers_po_cannot_be_flipped(client, acme, fake_erp):
    _signed_in(client, acme)
    foreign = _open_po(fake_erp, vendor="V1002")
    assert client.get(f"/documents/from-po/{foreign.number}").status_code == 404
    assert client.get("/documents/from-po/NOPE").status_code == 404


def test_a_flip_with_no_line_chosen_stays_on_the_form(client, acme, fake_erp):
    _signed_in(client, acme)
    order = _open_po(fake_erp)
    form = client.get(f"/documents/from-po/{order.number}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(form), "invoice_number": "FLIP-2", "issue_date": "2026-03-01"}
    for index, line in enumerate(order.lines):
        data[f"lines-{index}-po_line"] = str(line.line_number)
        data[f"lines-{index}-quantity"] = "1"
        data[f"lines-{index}-unit_price"] = str(line.unit_price)
    response = client.post(f"/documents/from-po/{order.number}", data=data)
    assert response.status_code == 400
    assert "Choose at least one line" in response.get_data(as_text=True)
    assert _ids() == []
