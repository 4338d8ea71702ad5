"""Schemathesis fuzzes every operation of /api/openapi.json against the live portal.

The operations come from the document itself (nothing is listed here), so an endpoint added
later is fuzzed too. Each generated request is sent once as a supplier's client and once as a
partner's client (tokens from the real token endpoint): no 5xx, and every answer is documented
(status, content type, headers, body schema); a protected operation refuses a call without
credentials. The authorization test then calls each operation that acts for a supplier as a
partner that is not connected to it, and each operation on an id with another organization's id.

A hook (`acting_for`) names the connected supplier in On-Behalf-Of in three cases of four of an
operation that takes the header, so the partner's calls are fuzzed past the connection check
(a random id would almost always meet the 403); the fourth keeps the fuzzer's own value.

Over real HTTP (tests/live.py) rather than Schemathesis's WSGI transport: partners' programs
meet werkzeug's HTTP layer (Content-Length, header parsing) and so does the fuzzer, and each
request gets its own app context as in production, where the WSGI transport would share the
test's. Schemathesis's coverage phase is off: it enumerates every boundary value of the
canonical invoice body (about 6,000 requests, over a minute alone); the examples phase (the
document's own examples) and the fuzzing phase (positive and negative data) stay on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.db import db
from app.throttling.models import Tier
from app.throttling.services import assign_tier
from tests.factories.oauth import ApiClientFactory
from tests.factories.orgs import ConnectionFactory, OrganizationFactory

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 12
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = "application/problem+json"


@dataclass
class Caller:
    """An API client with its credentials and a token from the real token endpoint."""

    organization_id: int
    client_id: str
    secret: str
    token: str

    def headers_for(self, security: list[dict]) -> dict[str, str]:
        """The credentials an operation asks for in its `security` (none when it asks none)."""
        schemes = {name for requirement in security for name in requirement}
        if "oauth2" in schemes:
            return {"Authorization": f"Bearer {self.token}"}
        if "clientSecretBasic" in schemes:
            return {"Authorization": requests.auth._basic_auth_str(self.client_id, self.secret)}
        return {}


def _caller(base_url: str, organization) -> Caller:
    # The largest seeded tier: the fuzzer should reach the code, not only the 429 answer.
    enterprise = db.session.scalar(select(Tier).where(Tier.name == "Enterprise"))
    assign_tier(organization, enterprise, actor=None)
    client = ApiClientFactory(organization=organization)
    answer = requests.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return Caller(organization.id, client.client_id, client.secret, answer.json()["access_token"])


# Of the cases of an operation that takes On-Behalf-Of, how many in four name the connected
# supplier (the partner's calls then reach the code behind the check; the supplier's own client
# names itself); the rest keep what the fuzzer drew, a random id or none, and meet the refusal.
# Which ones is decided from the drawn headers themselves, so a case replays the same way.
ACTING_FOR_THE_SUPPLIER = 3
ON_BEHALF_OF = "On-Behalf-Of"


def _takes_on_behalf_of(context) -> bool:
    operation = context.operation
    if operation is None:
        return False
    names = (p.get("name") or p.get("$ref", "").rsplit("/", 1)[-1] for p in
             operation.definition.raw.get("parameters", []))  # fmt: skip
    return any(name in (ON_BEHALF_OF, "OnBehalfOf") for name in names)


def _keeps_the_drawn_value(headers: dict[str, Any] | None) -> bool:
    digest = hashlib.sha256(repr(sorted((headers or {}).items())).encode()).digest()
    return digest[0] % 4 >= ACTING_FOR_THE_SUPPLIER


def acting_for(supplier_id: int):
    """A `map_headers` hook: most cases name `supplier_id` in On-Behalf-Of."""

    def map_headers(context, headers):
        if not _takes_on_behalf_of(context) or _keeps_the_drawn_value(headers):
            return headers
        return {**(headers or {}), ON_BEHALF_OF: str(supplier_id)}

    return map_headers


@pytest.fixture
def api_schema(live_server, supplier):
    loaded = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json", config=CONFIG)
    loaded.hook("map_headers")(acting_for(supplier.id))
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def supplier():
    # V1006 has purchase orders in the mock ERP, so the PO list is fuzzed with real data.
    return OrganizationFactory(supplier=True, erp_vendor_number="V1006")


@pytest.fixture
def callers(live_server, portal_erp, supplier) -> list[Caller]:
    partner = OrganizationFactory(partner=True)
    ConnectionFactory(partner=partner, supplier=supplier)
    return [_caller(live_server.url, supplier), _caller(live_server.url, partner)]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_documented(case, live_server, callers):
    security = case.operation.definition.raw.get("security", [])
    for caller in callers:
        case.call_and_validate(
            base_url=live_server.url, headers=caller.headers_for(security), checks=CHECKS
        )


# -- authorization ----------------------------------------------------------------------------


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS and _needs_token(operation):
                yield path, method, operation


def _needs_token(operation: dict[str, Any]) -> bool:
    return any("oauth2" in need for need in operation.get("security", []))


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in item:
        return item
    node: Any = spec
    for part in item["$ref"].removeprefix("#/").split("/"):
        node = node[part]
    return node


def _parameters(spec, operation, where: str) -> list[str]:
    found = [_resolve(spec, p) for p in operation.get("parameters", [])]
    return [p["name"] for p in found if p["in"] == where]


def _example_body(operation: dict[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    """The documented example of a JSON body (the only body that reaches the supplier check:
    a body that cannot be read is answered 400 first)."""
    content = operation.get("requestBody", {}).get("content", {})
    example = content.get("application/json", {}).get("example")
    if example is None:
        return None, {}
    return json.dumps(example).encode(), {"Content-Type": "application/json"}


def _send(url: str, method: str, caller: Caller, operation, *, body, headers) -> requests.Response:
    return requests.request(
        method,
        url,
        data=body,
        headers={**caller.headers_for(operation["security"]), **headers},
        timeout=10,
    )


def _assert_documented_refusal(response, operation, allowed: tuple[int, ...], what: str):
    assert response.status_code in allowed, f"{what}: {response.status_code} {response.text}"
    assert str(response.status_code) in operation["responses"], f"{what}: undocumented"
    assert response.headers["Content-Type"].startswith(PROBLEM), what


def _someone_elses_document(base_url: str, owner: Caller, spec: dict[str, Any]) -> int:
    invoices = spec["paths"]["/api/v1/invoices"]["post"]
    body, headers = _example_body(invoices)
    answer = requests.post(
        f"{base_url}/api/v1/invoices",
        data=body,
        headers={**owner.headers_for(invoices["security"]), **headers},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["documents"][0]["id"]


def test_no_operation_lets_a_caller_act_for_an_organization_not_its_own(
    live_server, portal_erp, supplier
):
    """A partner not connected to the supplier, and another supplier, naming the supplier in
    On-Behalf-Of get 403; on someone else's id they get what an unknown id gets (documented)."""
    owner = _caller(live_server.url, supplier)
    stranger = _caller(live_server.url, OrganizationFactory(partner=True))
    other_supplier = _caller(live_server.url, OrganizationFactory(supplier=True))
    spec = requests.get(f"{live_server.url}/api/openapi.json", timeout=10).json()
    foreign_id = _someone_elses_document(live_server.url, owner, spec)

    checked = 0
    for path, method, operation in _operations(spec):
        body, headers = _example_body(operation)
        ids = _parameters(spec, operation, "path")
        url = live_server.url + path.format(**dict.fromkeys(ids, foreign_id))
        if "On-Behalf-Of" in _parameters(spec, operation, "header"):
            for caller in (stranger, other_supplier):
                response = _send(
                    url,
                    method,
                    caller,
                    operation,
                    body=body,
                    headers={**headers, "On-Behalf-Of": str(owner.organization_id)},
                )
                _assert_documented_refusal(response, operation, (403,), f"{method} {path}")
                checked += 1
        if ids:
            missing = live_server.url + path.format(**dict.fromkeys(ids, 2_000_000_000))
            for caller in (stranger, other_supplier):
                response = _send(url, method, caller, operation, body=body, headers=headers)
                _assert_documented_refusal(response, operation, (403, 404), f"{method} {path}")
                # Someone else's id reads exactly like an id that does not exist.
                unknown = _send(missing, method, caller, operation, body=body, headers=headers)
                assert unknown.status_code == response.status_code, f"{method} {path}"
                checked += 1
    assert checked >= 6  # /me, both intakes, the PO list, the document: the test found them


# -- the On-Behalf-Of hook ---------------------------------------------------------------------


def _context(*parameters: dict[str, str]):
    from types import SimpleNamespace

    from schemathesis.hooks import HookContext

    raw = {"parameters": list(parameters)}
    return HookContext(operation=SimpleNamespace(definition=SimpleNamespace(raw=raw)))  # type: ignore[arg-type]


def test_most_cases_name_the_connected_supplier_and_some_keep_the_fuzzers_value():
    hook = acting_for(42)
    takes_it = _context({"$ref": "#/components/parameters/OnBehalfOf"})
    drawn: list[dict[str, Any] | None] = [{ON_BEHALF_OF: str(n), "X": "y"} for n in range(100, 400)]
    drawn += [None, {}, {"X": "z"}, *({"X": str(n)} for n in range(97))]
    mapped = [hook(takes_it, headers) for headers in drawn]
    named = [headers for headers in mapped if headers and headers.get(ON_BEHALF_OF) == "42"]
    assert 0.65 < len(named) / len(drawn) < 0.85  # about three in four
    kept = [got for got, given in zip(mapped, drawn, strict=True) if got == given]
    assert len(kept) == len(drawn) - len(named)  # the rest exactly as the fuzzer drew them
    assert any(got and got.get(ON_BEHALF_OF) not in (None, "42") for got in kept)  # random ids
    assert any(not got or ON_BEHALF_OF not in got for got in kept)  # and no header at all
    assert all(
        (got or {}).get("X") == (given or {}).get("X")
        for got, given in zip(mapped, drawn, strict=True)
    )
    # A case is mapped the same way every time it is replayed.
    assert [hook(takes_it, headers) for headers in drawn] == mapped
    # An operation without the header is left alone.
    other = _context({"$ref": "#/components/parameters/CorrelationId"})
    assert hook(other, {"X": "y"}) == {"X": "y"}
