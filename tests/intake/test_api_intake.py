"""POST /api/v1/invoices and /acknowledgments end to end: stored, queued, normalized by a worker."""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal

import pytest
from rq.job import Job
from sqlalchemy import func, select

from app.db import db
from app.documents.models import Document, DocumentState, OutboxEntry, RawPayload
from app.jobs import redis_connection
from app.orgs.models import ConnectionScope
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.formats.helpers import local, shared
from tests.intake.helpers import bearer, document, run_jobs

# (sample, content type, endpoint, [(number, payable or PO, lines)]): every format, both kinds.
INVOICE_SAMPLES = [
    ("ubl/base-example.xml", "application/xml", [("Snippet1", "1656.25", 2)]),
    ("cxml/invoice_taxes_at_line.xml", "text/xml", [("3495", "408", 1)]),
    (
        "x12/Example3_MultiInvoice.txt",
        "application/edi-x12",
        [("465266", "8432.02", 4), ("465267", "1129.92", 1)],
    ),
    ("x12/Example5_Walmart.txt", "text/plain", [("6463367", "3875.30", 1)]),
    (
        "local:csv_two_invoices.csv",
        "text/csv",
        [("INV-1001", "41.50", 2), ("INV-1002", "15.00", 1)],
    ),
    ("local:json_two_documents.json", "application/json", [("J-1", "1.2", 2), ("J-2", "-0.10", 1)]),
]
ACK_SAMPLES = [
    ("peppol-order-response/UC1_Order_response.xml", "application/xml", [("101", "1", 3)]),
    (
        "x12/855SSimmons.txt",
        "application/edi-x12",
        [("83517234", "7542", 2), ("83517334", "99035", 1)],
    ),
    ("local:cxml_confirmation_accept.xml", "application/xml", [("CONF-78", "PO-4502", 0)]),
]


def _sample(name: str) -> bytes:
    return local(name.removeprefix("local:")) if name.startswith("local:") else shared(name)


def _post(client, path, body, content_type, headers, **extra):
    return client.post(path, data=body, headers={**headers, "Content-Type": content_type, **extra})


@pytest.fixture
def acme():
    return OrganizationFactory(supplier=True)


@pytest.fixture
def auth(acme):
    return bearer(acme)


@pytest.mark.parametrize(("sample", "content_type", "expected"), INVOICE_SAMPLES)
def test_every_invoice_format_ends_normalized_with_its_totals(
    client, auth, sample, content_type, expected
):
    response = _post(client, "/api/v1/invoices", _sample(sample), content_type, auth)
    assert response.status_code == 202, response.json
    accepted = response.json["documents"]
    assert [d["state"] for d in accepted] == ["RECEIVED"] * len(expected)
    assert response.headers["Location"] == f"/api/v1/documents/{accepted[0]['id']}"

    assert run_jobs() == len(expected)

    for entry, (number, payable, lines) in zip(accepted, expected, strict=True):
        stored = document(entry["id"])
        assert stored.state is DocumentState.NORMALIZED, stored.errors
        assert stored.document_number == number
        assert stored.total_amount == Decimal(payable)
        assert len(stored.canonical["lines"]) == lines
        assert stored.canonical["source_format"] == stored.source_format
        assert stored.parser_version.startswith(stored.source_format)


@pytest.mark.parametrize(("sample", "content_type", "expected"), ACK_SAMPLES)
def test_every_acknowledgment_format_ends_normalized(client, auth, sample, content_type, expected):
    response = _post(client, "/api/v1/acknowledgments", _sample(sample), content_type, auth)
    assert response.status_code == 202, response.json
    run_jobs()
    for entry, (number, po_number, lines) in zip(response.json["documents"], expected, strict=True):
        stored = document(entry["id"])
        assert stored.state is DocumentState.NORMALIZED, stored.errors
        assert (stored.document_number, stored.po_number) == (number, po_number)
        assert len(stored.canonical["lines"]) == lines


def test_intake_stores_the_raw_payload_sender_and_correlation_in_one_go(client, acme, auth):
    body = local("csv_two_invoices.csv")
    response = _post(
        client, "/api/v1/invoices", body, "text/csv", auth, **{"X-Correlation-ID": "corr-42"}
    )
    assert response.headers["X-Correlation-ID"] == "corr-42"
    ids = [d["id"] for d in response.json["documents"]]
    documents = [document(i) for i in ids]
    assert {d.payload_id for d in documents} == {documents[0].payload_id}
    raw = db.session.get(RawPayload, documents[0].payload_id)
    assert raw.body == body
    assert raw.sha256 == hashlib.sha256(body).hexdigest()
    assert raw.sender_org_id == acme.id
    assert raw.client_id is not None
    assert all(d.supplier_org_id == acme.id and d.correlation_id == "corr-42" for d in documents)
    # Each document owes one normalize job, queued with the correlation id in its metadata.
    entries = db.session.scalars(select(OutboxEntry).where(OutboxEntry.document_id.in_(ids))).all()
    assert sorted(e.job_id for e in entries) == sorted(f"normalize-{i}" for i in ids)
    job = Job.fetch(f"normalize-{ids[0]}", connection=redis_connection())
    assert job.meta["correlation_id"] == "corr-42"
    assert job.retries_left == 3
    assert job.failure_ttl > 0


def test_a_document_with_field_errors_is_rejected_with_all_of_them(client, auth):
    body = b'{"invoice_number": "", "issue_date": "2024-13-01", "currency": "XXQ", "supplier": {}, "lines": [], "totals": {"line_total": "x", "payable": "1"}}'
    response = _post(client, "/api/v1/invoices", body, "application/json", auth)
    assert response.status_code == 202
    run_jobs()
    document_id = response.json["documents"][0]["id"]
    stored = document(document_id)
    assert stored.state is DocumentState.REJECTED
    paths = {e["path"] for e in stored.errors}
    assert {"invoice_number", "issue_date", "currency", "lines", "totals.line_total"} <= paths
    # The sender reads the same list back.
    detail = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert detail["state"] == "REJECTED"
    assert {e["path"] for e in detail["errors"]} == paths
    assert [t["state"] for t in detail["timeline"]] == ["RECEIVED", "REJECTED"]


def test_running_the_job_twice_changes_nothing(client, auth):
    from app.normalize.tasks import normalize

    response = _post(
        client, "/api/v1/invoices", local("json_two_documents.json"), "application/json", auth
    )
    document_id = response.json["documents"][0]["id"]
    run_jobs()
    first = document(document_id)
    snapshot = (first.state, first.canonical, first.updated_at, len(first.timeline))
    assert normalize(document_id) == "NORMALIZED"
    again = document(document_id)
    assert (again.state, again.canonical, again.updated_at, len(again.timeline)) == snapshot
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxEntry)
            .where(
                OutboxEntry.document_id == document_id,
                OutboxEntry.command == "normalize",
                OutboxEntry.completed_at.is_(None),
            )
        )
        == 0
    )


# -- refused payloads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        (b"<Invoice><unclosed></Invoice>", "application/xml", 400, "line 1, column 30"),
        (b'{"invoice_number": ', "application/json", 400, "line 1, column 20"),
        (b"ISA*00*bad", "application/edi-x12", 400, None),
        (b"just some words", "text/plain", 400, "byte 0"),
        (b"<Order xmlns='urn:x'/>", "application/xml", 400, "/Order"),
        (b"%PDF-1.7", "application/pdf", 415, "Content-Type"),
        (b'{"a": 1}', "application/xml", 400, "byte 0"),
    ],
)
def test_envelope_garbage_is_refused_at_once_saying_what_and_where(client, auth, case):
    body, content_type, status, where = case
    response = _post(client, "/api/v1/invoices", body, content_type, auth)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == status
    assert problem["errors"][0]["message"]
    if where:
        assert problem["errors"][0]["location"] == where
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_csv_acknowledgments_are_refused(client, auth):
    response = _post(
        client, "/api/v1/acknowledgments", local("csv_two_invoices.csv"), "text/csv", auth
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["code"] == "document_type_not_accepted"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<Invoice>&lol9;</Invoice>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Invoice>&xxe;</Invoice>"""
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "'
    + b"A" * 50_000
    + b'">]><Invoice>'
    + b"&a;" * 20_000
    + b"</Invoice>"
)


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, XXE, QUADRATIC], ids=["billion-laughs", "xxe", "quadratic"]
)
def test_hostile_xml_gets_a_fast_400(client, auth, body):
    started = time.perf_counter()
    response = _post(client, "/api/v1/invoices", body, "application/xml", auth)
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 400
    assert response.json["errors"][0]["code"] == "unsafe_xml"


def test_a_payload_over_the_tiers_body_limit_gets_413(client, auth):
    body = b'{"pad": "' + b" " * (5 * 1024 * 1024) + b'"}'  # the default tier allows 5 MiB
    response = _post(client, "/api/v1/invoices", body, "application/json", auth)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(RawPayload)) == 0


def test_without_throttling_max_content_length_still_gives_413(app, client, auth, monkeypatch):
    monkeypatch.delitem(app.extensions, "throttle_hook")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = _post(
        client, "/api/v1/invoices", b"{" + b" " * 2048 + b"}", "application/json", auth
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(RawPayload)) == 0


def test_a_payload_beyond_the_daily_documents_quota_gets_429_and_stores_nothing(client):
    from app.throttling import clear_tier_caches
    from app.throttling.models import OrganizationTier, Tier

    tiny = Tier(
        name="Tiny",
        requests_per_minute=600,
        burst_per_second=10,
        requests_per_day=1000,
        max_body_bytes=1024 * 1024,
        documents_per_day=3,
    )
    acme = OrganizationFactory(supplier=True)
    db.session.add_all([tiny, OrganizationTier(organization=acme, tier=tiny)])
    db.session.flush()
    clear_tier_caches()
    auth = bearer(acme)
    body = local("json_two_documents.json")  # two invoices: the first payload fits, not the second
    assert _post(client, "/api/v1/invoices", body, "application/json", auth).status_code == 202
    other = body.replace(b"J-1", b"J-3").replace(b"J-2", b"J-4")
    response = _post(client, "/api/v1/invoices", other, "application/json", auth)
    assert response.status_code == 429
    assert response.headers["Retry-After"]
    assert db.session.scalar(select(func.count()).select_from(Document)) == 2


def test_without_a_token_nothing_is_stored(client):
    response = _post(
        client, "/api/v1/invoices", local("json_two_documents.json"), "application/json", {}
    )
    assert response.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(RawPayload)) == 0


def test_a_token_without_the_write_scope_is_refused(client, acme):
    response = _post(
        client,
        "/api/v1/invoices",
        local("json_two_documents.json"),
        "application/json",
        bearer(acme, "invoices:read"),
    )
    assert response.status_code == 403


# -- who a document is for -------------------------------------------------------------------


def test_partner_sends_for_a_connected_supplier_named_in_the_header(client):
    network, acme = OrganizationFactory(partner=True), OrganizationFactory(supplier=True)
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    response = _post(
        client,
        "/api/v1/invoices",
        local("json_two_documents.json"),
        "application/json",
        bearer(network),
        **{"On-Behalf-Of": str(acme.id)},
    )
    assert response.status_code == 202
    stored = document(response.json["documents"][0]["id"])
    assert (stored.sender_org_id, stored.supplier_org_id) == (network.id, acme.id)


def test_partner_may_name_the_supplier_inside_the_document(client):
    network, acme = (
        OrganizationFactory(partner=True),
        OrganizationFactory(supplier=True, erp_vendor_number="V-0042"),
    )
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    body = local("json_two_documents.json").replace(
        b'"supplier": {"name": "Acme Medical"}',
        b'"supplier": {"name": "Acme", "erp_vendor_number": "V-0042"}',
    )
    response = _post(client, "/api/v1/invoices", body, "application/json", bearer(network))
    assert response.status_code == 202, response.json
    assert {document(d["id"]).supplier_org_id for d in response.json["documents"]} == {acme.id}


def test_partner_may_name_the_supplier_by_tax_id(client):
    from app.onboarding.models import Profile

    network, acme, lookalike = (
        OrganizationFactory(partner=True),
        OrganizationFactory(supplier=True),
        OrganizationFactory(supplier=True),
    )
    db.session.add_all(
        [
            Profile(organization=acme, tax_id="12 3456789"),
            Profile(organization=lookalike, tax_id="98-7654321"),
        ]
    )
    ConnectionFactory(partner=network, supplier=lookalike, scopes=(ConnectionScope.INVOICES,))
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    # The CSV names its supplier only by tax id 12-3456789 (EIN), written differently.
    response = _post(
        client, "/api/v1/invoices", local("csv_two_invoices.csv"), "text/csv", bearer(network)
    )
    assert response.status_code == 202, response.json
    assert {document(d["id"]).supplier_org_id for d in response.json["documents"]} == {acme.id}


@pytest.mark.parametrize(
    "types", [(), (ConnectionScope.ACKNOWLEDGMENTS,)], ids=["not-connected", "other-type"]
)
def test_partner_not_connected_for_invoices_gets_403(client, types):
    network, acme = OrganizationFactory(partner=True), OrganizationFactory(supplier=True)
    if types:
        ConnectionFactory(partner=network, supplier=acme, scopes=(*types,))
    response = _post(
        client,
        "/api/v1/invoices",
        local("json_two_documents.json"),
        "application/json",
        bearer(network),
        **{"On-Behalf-Of": str(acme.id)},
    )
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(RawPayload)) == 0


def test_partner_that_names_no_supplier_gets_403(client):
    response = _post(
        client,
        "/api/v1/invoices",
        local("json_two_documents.json"),
        "application/json",
        bearer(OrganizationFactory(partner=True)),
    )
    assert response.status_code == 403
    assert "On-Behalf-Of" in response.json["detail"]


def test_supplier_client_cannot_send_for_another_supplier(client, auth):
    other = OrganizationFactory(supplier=True)
    response = _post(
        client,
        "/api/v1/invoices",
        local("json_two_documents.json"),
        "application/json",
        auth,
        **{"On-Behalf-Of": str(other.id)},
    )
    assert response.status_code == 403


def test_a_payload_of_many_documents_is_parsed_once_per_worker(client, auth, monkeypatch):
    from app.normalize import services

    response = _post(
        client,
        "/api/v1/invoices",
        shared("x12/Example3_MultiInvoice.txt"),
        "application/edi-x12",
        auth,
    )
    calls = []
    real_parse = services.parse
    monkeypatch.setattr(services, "parse", lambda *args: calls.append(args) or real_parse(*args))
    assert run_jobs() == 2
    assert len(calls) == 1
    assert {document(d["id"]).state for d in response.json["documents"]} == {
        DocumentState.NORMALIZED
    }


def test_the_request_only_splits_canonical_models_are_built_by_the_job(client, auth, monkeypatch):
    from app import formats

    built = []
    real_build = formats.build
    monkeypatch.setattr(formats, "build", lambda *args: built.append(args) or real_build(*args))
    response = _post(
        client,
        "/api/v1/invoices",
        shared("x12/Example3_MultiInvoice.txt"),
        "application/edi-x12",
        auth,
    )
    assert response.status_code == 202
    assert built == []  # the request identified two documents without building either
    assert run_jobs() == 2
    assert len(built) == 2


def test_every_transition_is_announced_with_one_type(client, auth):
    from app.pipeline import Transitioned, document_transitioned

    heard: list[Transitioned] = []

    def listen(sender: Transitioned) -> None:
        heard.append(sender)

    with document_transitioned.connected_to(listen):
        response = _post(
            client, "/api/v1/invoices", local("json_two_documents.json"), "application/json", auth
        )
        run_jobs()
    ids = {d["id"] for d in response.json["documents"]}
    assert {type(event) for event in heard} == {Transitioned}
    assert {(e.document_id, e.event) for e in heard if e.event == "document.received"} == {
        (i, "document.received") for i in ids
    }
    normalized = [e for e in heard if e.to_state == "NORMALIZED"]
    assert {e.document_id for e in normalized} == ids
    assert {e.from_state for e in normalized} == {"RECEIVED"}
