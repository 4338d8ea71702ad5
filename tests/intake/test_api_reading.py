"""Reading back: one document, the invoice list with its cursor, purchase orders, the contract."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.erp.errors import ErpUnavailable
from app.orgs.models import ConnectionScope
from tests.factories.orgs import ConnectionFactory, OrganizationFactory
from tests.formats.helpers import local
from tests.intake.helpers import bearer, document, run_jobs

JSON = {"Content-Type": "application/json"}


_SENT = itertools.count()


def _send(client, auth, body=None, kind="invoices", **headers):
    # Each default payload one trailing space longer: the same bytes twice would be refused.
    body = body if body is not None else local("json_two_documents.json") + b" " * next(_SENT)
    response = client.post(f"/api/v1/{kind}", data=body, headers={**auth, **JSON, **headers})
    assert response.status_code == 202, response.json
    return [d["id"] for d in response.json["documents"]]


@pytest.fixture
def acme():
    return OrganizationFactory(supplier=True)


@pytest.fixture
def auth(acme):
    return bearer(acme)


def test_a_document_reads_back_with_state_timeline_and_content(client, auth, acme):
    acme_id = acme.id  # the job's unit of work ends the test session's hold on objects
    document_id = _send(client, auth, **{"X-Correlation-ID": "c-7"})[0]
    before = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert before["state"] == "RECEIVED"
    assert before["document"] is None
    run_jobs()
    detail = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
    assert detail["state"] == "NORMALIZED"
    assert detail["supplier_id"] == acme_id
    assert detail["correlation_id"] == "c-7"
    assert detail["document"]["invoice_number"] == "J-1"
    assert detail["document"]["totals"]["payable"] == "1.2"
    assert detail["total_amount"] == "1.20"
    assert detail["currency"] == "USD"
    assert [t["state"] for t in detail["timeline"]] == ["RECEIVED", "NORMALIZED"]
    assert detail["timeline"][0]["at"].endswith("Z")
    assert detail["errors"] == []


def test_another_organizations_document_is_404(client, auth):
    document_id = _send(client, auth)[0]
    stranger = bearer(OrganizationFactory(supplier=True))
    response = client.get(f"/api/v1/documents/{document_id}", headers=stranger)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/documents/999999", headers=auth).status_code == 404
    assert client.get("/api/v1/invoices", headers=stranger).json["data"] == []


def test_the_supplier_sees_what_a_partner_sent_for_it_and_other_partners_do_not(client, acme):
    network, other_network = OrganizationFactory(partner=True), OrganizationFactory(partner=True)
    ConnectionFactory(partner=network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    ConnectionFactory(partner=other_network, supplier=acme, scopes=(ConnectionScope.INVOICES,))
    document_id = _send(client, bearer(network), **{"On-Behalf-Of": str(acme.id)})[0]
    assert client.get(f"/api/v1/documents/{document_id}", headers=bearer(acme)).status_code == 200
    assert (
        client.get(f"/api/v1/documents/{document_id}", headers=bearer(other_network)).status_code
        == 404
    )


def test_invoices_page_through_with_a_cursor(client, auth):
    ids = []
    for _ in range(3):
        ids += _send(client, auth)
    _send(
        client,
        auth,
        local("cxml_confirmation_accept.xml"),
        kind="acknowledgments",
        **{"Content-Type": "application/xml"},
    )
    seen, url = [], "/api/v1/invoices?limit=4"
    while url:
        response = client.get(url, headers=auth)
        assert response.status_code == 200
        seen += [item["id"] for item in response.json["data"]]
        cursor = response.json["next_cursor"]
        if cursor:
            link = response.headers["Link"]
            assert parse_qs(urlsplit(link[1 : link.index(">")]).query)["cursor"] == [cursor]
        url = f"/api/v1/invoices?limit=4&cursor={cursor}" if cursor else None
    assert seen == ids  # every invoice once, oldest change first, acknowledgments left out


def test_invoices_filter_by_state_and_updated_since(client, auth):
    first = _send(client, auth)
    run_jobs()
    _send(client, auth)
    normalized = client.get("/api/v1/invoices?state=NORMALIZED", headers=auth).json["data"]
    assert [i["id"] for i in normalized] == first
    both = client.get("/api/v1/invoices?state=received,normalized", headers=auth).json["data"]
    assert len(both) == 4
    stamp = document(first[0]).updated_at + dt.timedelta(hours=1)
    later = client.get(
        "/api/v1/invoices", query_string={"updated_since": stamp.isoformat()}, headers=auth
    )
    assert later.json["data"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=LOST", "state"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2024-01-01T00:00:00", "updated_since"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(client, auth, query, parameter):
    response = client.get(f"/api/v1/invoices?{query}", headers=auth)
    assert response.status_code == 400
    assert response.json["parameter"] == parameter


def test_reading_needs_the_read_scopes(client, acme):
    write_only = bearer(acme, "invoices:write")
    assert client.get("/api/v1/invoices", headers=write_only).status_code == 403
    assert client.get("/api/v1/documents/1", headers=write_only).status_code == 403


# -- purchase orders -------------------------------------------------------------------------


def test_a_supplier_reads_its_open_purchase_orders(client, fake_erp):
    acme = OrganizationFactory(supplier=True, erp_vendor_number="V1006")
    response = client.get(
        "/api/v1/purchase-orders", headers={**bearer(acme), "X-Correlation-ID": "po-1"}
    )
    assert response.status_code == 200
    orders = response.json["data"]
    expected = [
        po
        for po in fake_erp.purchase_orders.values()
        if po.vendor_number == "V1006" and po.status != "CLOSED"
    ]
    assert sorted(o["number"] for o in orders) == sorted(po.number for po in expected)
    assert {o["supplier_id"] for o in orders} == {acme.id}
    assert orders[0]["lines"][0]["unit_price"]
    assert fake_erp.calls_to("list_purchase_orders")[-1].kwargs["correlation_id"] == "po-1"


def test_a_partner_reads_the_purchase_orders_of_connected_suppliers(client, fake_erp):
    network = OrganizationFactory(partner=True)
    one, two, invoices_only = (
        OrganizationFactory(supplier=True, erp_vendor_number=v) for v in ("V1006", "V1013", "V1002")
    )
    ConnectionFactory(partner=network, supplier=one, scopes=(ConnectionScope.PURCHASE_ORDERS,))
    ConnectionFactory(partner=network, supplier=two, scopes=(ConnectionScope.PURCHASE_ORDERS,))
    ConnectionFactory(partner=network, supplier=invoices_only, scopes=(ConnectionScope.INVOICES,))
    auth = bearer(network)
    everything = client.get("/api/v1/purchase-orders", headers=auth).json["data"]
    assert {o["vendor_number"] for o in everything} == {"V1006", "V1013"}
    only_one = client.get("/api/v1/purchase-orders", headers={**auth, "On-Behalf-Of": str(two.id)})
    assert {o["vendor_number"] for o in only_one.json["data"]} == {"V1013"}
    refused = client.get(
        "/api/v1/purchase-orders", headers={**auth, "On-Behalf-Of": str(invoices_only.id)}
    )
    assert refused.status_code == 403


def test_purchase_orders_answer_503_while_the_erp_is_down(client, fake_erp):
    fake_erp.fail_next(ErpUnavailable("down", reason="connection_refused"))
    response = client.get(
        "/api/v1/purchase-orders",
        headers=bearer(OrganizationFactory(supplier=True, erp_vendor_number="V1006")),
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]


@pytest.mark.slow
def test_purchase_orders_come_from_the_real_mock_erp(client, portal_erp):
    acme = OrganizationFactory(supplier=True, erp_vendor_number="V1006")
    orders = client.get("/api/v1/purchase-orders", headers=bearer(acme)).json["data"]
    assert orders
    assert {o["vendor_number"] for o in orders} == {"V1006"}
    assert {o["status"] for o in orders} <= {"OPEN", "PARTIALLY_RECEIVED", "RECEIVED"}


# -- the published contract ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["invoice", "acknowledgment"])
def test_canonical_schemas_are_published(client, kind):
    response = client.get(f"/api/schemas/{kind}/v1.json")
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    assert response.json["$id"] == f"/api/schemas/{kind}/v1.json"
    assert client.get(f"/api/schemas/{kind}/v9.json").status_code == 404


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_describes_every_api_route_and_every_ref_resolves(app, client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    for target in set(_refs(spec)):
        node = spec
        for part in target.removeprefix("#/").split("/"):
            assert part in node, f"dangling $ref {target}"
            node = node[part]
    # Path parameters compared by position: Flask's names need not be the document's.
    documented = {
        (re.sub(r"\{\w+\}", "{}", path), method.upper())
        for path, item in spec["paths"].items()
        for method in item
    }
    served = {
        (re.sub(r"<(?:\w+:)?\w+>", "{}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/", "/oauth/", "/.well-known/"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served <= documented
    for path in (
        "/oauth/token",
        "/oauth/introspect",
        "/oauth/revoke",
        "/api/v1/me",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ):
        assert path in spec["paths"]
    assert "24 hours" in spec["components"]["parameters"]["IdempotencyKey"]["description"]


def test_the_docs_page_is_rendered_from_the_openapi_document(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<code>/api/v1/invoices</code>" in html
    assert "Idempotency-Key" in html
    assert "<script" not in html
    assert "cdn" not in html.lower()
    assert 'id="schema-Invoice"' in html
