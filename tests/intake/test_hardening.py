"""Hardening of intake: content codings, NUL characters, out-of-range ids in headers and
documents, and a partner's invoice without lines answered for what is actually wrong."""

from __future__ import annotations

import gzip
import io
import json
import time
import zlib

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app.db import db
from app.documents.models import Document, DocumentState, RawPayload
from app.jobs import QUEUE_NAMES, redis_connection
from app.orgs.models import ConnectionScope
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import bearer, document, run_jobs

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def acme():
    return OrganizationFactory(supplier=True, erp_vendor_number="V-0042")


@pytest.fixture
def auth(acme):
    return bearer(acme)


def _post(client, auth, body, **headers):
    return client.post("/api/v1/invoices", data=body, headers={**auth, **JSON, **headers})


def _stored() -> int:
    return db.session.scalar(select(func.count()).select_from(RawPayload)) or 0


def _failed_jobs() -> int:
    connection = redis_connection()
    return sum(
        FailedJobRegistry(queue=Queue(name, connection=connection)).count for name in QUEUE_NAMES
    )


def _invoice(**changes) -> dict:
    invoice = json.loads(local("json_two_documents.json"))["documents"][0]
    invoice.update(changes)
    return invoice


# -- Content-Encoding ---------------------------------------------------------------------


def test_a_gzip_invoice_is_inflated_stored_and_normalized(client, auth):
    body = local("json_two_documents.json")
    response = _post(client, auth, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert response.status_code == 202, response.json
    assert response.json["format"] == "json"
    ids = [d["id"] for d in response.json["documents"]]
    assert len(ids) == 2
    raw = db.session.scalar(select(RawPayload))
    assert raw.body == body  # stored as the parsers read it
    run_jobs()
    assert {document(i).state for i in ids} == {DocumentState.NORMALIZED}
    assert document(ids[0]).document_number == "J-1"


def test_a_gzip_bomb_is_refused_with_413_quickly(app, client, auth):
    limit = app.config["MAX_CONTENT_LENGTH"]
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"{" + b" " * (1 << 20)
    bomb = b"".join(deflater.compress(chunk) for _ in range(1024)) + deflater.flush()  # 1 GiB
    assert len(bomb) < limit
    started = time.monotonic()
    response = _post(client, auth, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert f"more than {limit} bytes" in response.json["detail"]
    assert time.monotonic() - started < 5
    assert _stored() == 0


@pytest.mark.parametrize("coding", ["br", "deflate", "compress", "zstd", "gzip, br"])
def test_another_content_encoding_gets_415_naming_what_is_accepted(client, auth, coding):
    response = _post(client, auth, local("json_two_documents.json"), **{"Content-Encoding": coding})
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert "gzip" in response.json["detail"]
    assert "identity" in response.json["detail"]
    assert response.headers["Accept-Encoding"] == "gzip, identity"
    assert _stored() == 0


def test_broken_gzip_is_a_400(client, auth):
    body = gzip.compress(local("json_two_documents.json"))[:-12]
    response = _post(client, auth, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json["detail"]


def test_identity_is_the_payload_as_it_is(client, auth):
    response = _post(
        client, auth, local("json_two_documents.json"), **{"Content-Encoding": "identity"}
    )
    assert response.status_code == 202


# -- X12 bytes ----------------------------------------------------------------------------


def test_an_x12_interchange_with_invalid_utf8_gets_400_with_the_byte(client, auth):
    body = local("x12_810_005010_pipes.txt").replace(b"ACME MEDICAL", b"ACME M\xc9DICAL")
    response = client.post(
        "/api/v1/invoices", data=body, headers={**auth, "Content-Type": "application/edi-x12"}
    )
    assert response.status_code == 400
    offset = body.index(b"\xc9")
    assert response.json["errors"][0]["location"] == f"byte {offset}"
    assert _stored() == 0


# -- NUL characters (PostgreSQL text and jsonb refuse them) -------------------------------


def test_nul_in_text_fields_ends_rejected_naming_each_field(client, auth):
    invoice = _invoice(
        invoice_number="J-\u00001",
        notes=["see \u0000 attached"],
        supplier={"name": "Acme\u0000 Medical", "erp_vendor_number": "V-0042\u0000"},
    )
    invoice["lines"][0]["description"] = "Gau\u0000ze"
    invoice["odd\u0000key"] = "x"
    response = _post(client, auth, json.dumps(invoice).encode())
    assert response.status_code == 202, response.json
    document_id = response.json["documents"][0]["id"]
    run_jobs()
    stored = document(document_id)
    assert stored.state is DocumentState.REJECTED
    errors = {e["path"]: e for e in stored.errors}
    for path in (
        "invoice_number",
        "notes[0]",
        "supplier.name",
        "supplier.erp_vendor_number",
        "lines[0].description",
    ):
        assert errors[path]["code"] == "nul_character", stored.errors
        assert "NUL" in errors[path]["message"]
    assert "\x00" not in json.dumps(stored.errors)
    assert any(e["code"] == "unknown_field" for e in stored.errors)
    assert stored.canonical is None
    assert _failed_jobs() == 0
    detail = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert detail["state"] == "REJECTED"
    assert "invoice_number" in {e["path"] for e in detail["errors"]}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", "csv_two_invoices.csv"),
        ("application/edi-x12", "x12_810_005010_pipes.txt"),
    ],
)
def test_nul_is_rejected_in_every_format(client, auth, content_type, body):
    payload = local(body).replace(b"INV-", b"INV-\x00", 1)
    response = client.post(
        "/api/v1/invoices", data=payload, headers={**auth, "Content-Type": content_type}
    )
    assert response.status_code == 202, response.json
    run_jobs()
    first = document(response.json["documents"][0]["id"])
    assert first.state is DocumentState.REJECTED
    assert [e["path"] for e in first.errors if e["code"] == "nul_character"] == ["invoice_number"]
    assert _failed_jobs() == 0


@pytest.mark.parametrize("field", ["portal_id", "erp_vendor_number"])
def test_a_partner_naming_its_supplier_with_a_nul_gets_the_field_named(client, acme, field):
    """The lookup ignores the NUL (PostgreSQL cannot compare it); the model names the field."""
    network = OrganizationFactory(partner=True)
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    value = str(acme.id) if field == "portal_id" else "V-0042"
    invoice = _invoice(supplier={"name": "Acme", field: f"{value}\u0000"})
    response = _post(client, bearer(network), json.dumps(invoice).encode())
    assert response.status_code == 202, response.json
    document_id = response.json["documents"][0]["id"]
    assert document(document_id).supplier_org_id == acme.id
    run_jobs()
    stored = document(document_id)
    assert stored.state is DocumentState.REJECTED
    assert [(e["path"], e["code"]) for e in stored.errors] == [
        (f"supplier.{field}", "nul_character")
    ]


def test_a_nul_in_an_uploaded_file_name_is_not_stored(client, acme):
    UserFactory(email="ap@acme.example", role=Role.SUPPLIER_USER, role__organization=acme)
    login(client, "ap@acme.example", PASSWORD)
    token = csrf_token(client.get("/documents/upload").get_data(as_text=True))
    response = client.post(
        "/documents/upload",
        data={
            "csrf_token": token,
            "kind": "invoice",
            "file": (io.BytesIO(local("csv_two_invoices.csv")), "mar\x00ch.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 400)
    raw = db.session.scalar(select(RawPayload))
    if raw is not None:
        assert "\x00" not in (raw.filename or "")


# -- ids out of range in headers and documents --------------------------------------------


@pytest.mark.parametrize(
    "value",
    [str(2**31), str(2**63), "9" * 5000, "\u00b2", "-1"],
    ids=["2**31", "2**63", "5000-digits", "superscript-two", "negative"],
)
def test_on_behalf_of_out_of_range_is_a_400(client, value):
    network = OrganizationFactory(partner=True)
    response = _post(
        client, bearer(network), local("json_two_documents.json"), **{"On-Behalf-Of": value}
    )
    assert response.status_code == 400
    assert "On-Behalf-Of" in response.json["detail"]


@pytest.mark.parametrize(
    "portal_id", [str(2**31), "9" * 5000, "\u00b2"], ids=["2**31", "5000-digits", "superscript-two"]
)
def test_a_portal_id_out_of_range_in_a_document_names_no_supplier(client, portal_id):
    invoice = _invoice(supplier={"name": "Acme", "portal_id": portal_id})
    response = _post(
        client, bearer(OrganizationFactory(partner=True)), json.dumps(invoice).encode()
    )
    assert response.status_code == 403
    assert "On-Behalf-Of" in response.json["detail"]


@pytest.mark.parametrize("limit", ["\u00b2", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_a_limit_that_is_no_small_number_is_a_400(client, auth, limit):
    response = client.get(f"/api/v1/invoices?limit={limit}", headers=auth)
    assert response.status_code == 400
    assert response.json["parameter"] == "limit"


# -- a partner's invoice without lines ----------------------------------------------------


@pytest.mark.parametrize("lines", ["missing", "empty"])
def test_a_partners_invoice_without_lines_is_answered_about_the_lines(client, acme, lines):
    network = OrganizationFactory(partner=True)
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    invoice = _invoice()  # names its supplier by vendor number V-0042
    if lines == "missing":
        del invoice["lines"]
    else:
        invoice["lines"] = []
    response = _post(client, bearer(network), json.dumps(invoice).encode())
    assert response.status_code == 202, response.json  # never a 403 about On-Behalf-Of
    document_id = response.json["documents"][0]["id"]
    stored = document(document_id)
    assert (stored.sender_org_id, stored.supplier_org_id) == (network.id, acme.id)
    run_jobs()
    stored = document(document_id)
    assert stored.state is DocumentState.REJECTED
    assert [e["path"] for e in stored.errors] == ["lines"]
    assert stored.errors[0]["code"] == "required"
    assert _failed_jobs() == 0


def test_a_documents_count_is_unchanged_by_refusals(client, auth):
    """Guard for the refusals above: they store nothing at all."""
    _post(client, auth, b"x", **{"Content-Encoding": "br"})
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
