"""The API's public contract: canonical JSON Schemas, the OpenAPI document, and a readable
docs page rendered from that same document on the server (no CDN, no script)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import select

from app.api.openapi import FORM, JSON, document
from app.canonical import json_schema
from app.db import db
from app.erp.errors import ErpError
from app.erp.mock.catalog import VENDORS
from app.intake import examples
from app.orgs.models import Organization, OrgKind

bp = Blueprint("api_docs", __name__, url_prefix="/api")

METHODS = ("get", "post", "put", "patch", "delete")
# Schemas and the OpenAPI document only change with a deploy.
CACHE_CONTROL = "public, max-age=3600"


@bp.get("/schemas/<kind>/<version>.json")
def canonical_schema(kind: str, version: str) -> Response:
    try:
        schema = json_schema(kind, version)
    except KeyError:
        abort(404, f"No schema is published for {kind} {version}.")
    response = jsonify(schema)
    response.mimetype = "application/schema+json"
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(document())
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/docs")
def docs() -> str:
    spec = document()
    base = request.host_url.rstrip("/")
    return render_template(
        "api/docs.html",
        spec=spec,
        operations=operations(spec),
        schemas=spec["components"]["schemas"],
        curl=lambda op: curl_example(op, base),
        quick_start=quick_start(base),
        demo_supplier=demo_supplier(),
        examples=examples.FORMATS,
    )


def demo_supplier() -> Organization | None:
    """The demo data's first supplier (the one the demo partner acts for), if seeded here."""
    return db.session.scalar(
        select(Organization).where(
            Organization.kind == OrgKind.SUPPLIER,
            Organization.erp_vendor_number == VENDORS[0].number,
        )
    )


@bp.get("/docs/examples/<fmt>")
def example(fmt: str) -> Response:
    """An example document for one of the demo supplier's open POs (demo data only)."""
    supplier = demo_supplier()
    if supplier is None or fmt not in examples.FORMATS_BY_KEY:
        abort(404, "Examples are built from the demo data, which this portal does not have.")
    try:
        return examples.download(examples.for_supplier(fmt, supplier, g.correlation_id))
    except examples.NoOpenOrderError:
        abort(404, "The demo supplier has no open purchase order to build an example for.")
    except ErpError:
        abort(503, "The ERP is not answering right now; try again in a minute.")


# -- curl examples ----------------------------------------------------------------------------


def curl_example(op: dict[str, Any], base: str) -> str:
    """A curl command for one operation, with $TOKEN, $CLIENT_ID/$CLIENT_SECRET, an id
    variable per path parameter ($DOCUMENT_ID for /documents/{id}) and a file from the
    examples standing in for what the caller has."""
    path = _PATH_PARAMETER.sub(_id_variable, op["path"])
    parts = ["curl", "-sS"]
    if op["method"] != "GET":
        parts += ["-X", op["method"]]
    schemes = {name for need in op.get("security", []) for name in need}
    if "oauth2" in schemes:
        parts += ["-H", '"Authorization: Bearer $TOKEN"']
    elif "clientSecretBasic" in schemes:
        parts += ["-u", '"$CLIENT_ID:$CLIENT_SECRET"']
    parts += _body_arguments(op)
    parts.append(f'"{base}{path}"')
    return " ".join(parts)


_PATH_PARAMETER = re.compile(r"(?:/([\w-]+))?/\{(\w+)\}")


def _id_variable(match: re.Match[str]) -> str:
    """`/documents/{id}` -> `/documents/$DOCUMENT_ID`; `/{endpoint_id}` -> `/$ENDPOINT_ID`."""
    collection, name = match.group(1) or "", match.group(2)
    prefix = f"/{collection}" if collection else ""
    if name == "id" and collection:
        name = collection.removesuffix("s").replace("-", "_") + "_id"
    return f"{prefix}/${name.upper()}"


def _body_arguments(op: dict[str, Any]) -> list[str]:
    content = op.get("requestBody", {}).get("content", {})
    if FORM in content:
        schema = content[FORM]["schema"]
        fields = [
            f"{name}={schema['properties'][name].get('const', '$TOKEN')}"
            for name in schema.get("required", [])
        ]
        return [arg for field in fields for arg in ("-d", shlex.quote(field))]
    if JSON in content:
        name = op["path"].rstrip("/").rsplit("/", 1)[-1].removesuffix("s")
        return ["-H", f'"Content-Type: {JSON}"', "--data-binary", f"@{name}.json"]
    return []


def quick_start(base: str) -> str:
    """Token, send an invoice, poll it: a shell session that runs as it stands (tested)."""
    return QUICK_START.replace("{base}", base)


QUICK_START = """\
PORTAL={base}
# 1. A token (client credentials; the client and its secret come from "API clients")
TOKEN=$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \\
  "$PORTAL/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# 2. Send an invoice (any example below; a partner adds -H "On-Behalf-Of: <supplier id>")
curl -sS -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/xml" \\
  -H "Idempotency-Key: $(python3 -c 'import uuid; print(uuid.uuid4())')" \\
  --data-binary @invoice.xml "$PORTAL/api/v1/invoices" | tee sent.json
DOCUMENT_ID=$(python3 -c 'import json; print(json.load(open("sent.json"))["documents"][0]["id"])')
# 3. Poll until it leaves RECEIVED (NORMALIZED, VALIDATED, ON_HOLD, POSTED...)
curl -sS -H "Authorization: Bearer $TOKEN" "$PORTAL/api/v1/documents/$DOCUMENT_ID"
"""


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every (path, method) with its operation, in document order, grouped by first tag."""
    found = [
        {
            "path": path,
            "method": method.upper(),
            "anchor": _ANCHOR_UNSAFE.sub("-", f"{method}{path}").strip("-"),
            "tag": op.get("tags", ["Other"])[0],
            **op,
        }
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    order = [tag["name"] for tag in spec.get("tags", [])]
    return sorted(found, key=lambda op: order.index(op["tag"]) if op["tag"] in order else 99)


_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


# -- template helpers ---------------------------------------------------------------------------

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


@bp.app_template_filter("inline_markdown")
def inline_markdown(text: str) -> Markup:
    """The two bits of Markdown the API descriptions use, on already escaped text."""
    html = str(escape(text))
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return Markup(_CODE.sub(r"<code>\1</code>", html))  # noqa: S704 - built from escaped text


@bp.app_template_global("schema_label")
def schema_label(schema: dict[str, Any]) -> str:
    """A short human name for a schema: `string`, `array of Invoice`, `Party or null`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " and " if combinator == "allOf" else " or "
            return joiner.join(schema_label(part) for part in schema[combinator])
    if "const" in schema:
        return f"“{schema['const']}”"
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {schema_label(schema.get('items', {}))}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


@bp.app_template_global("resolve_ref")
def resolve_ref(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (parameters, responses) to what it names."""
    target = item.get("$ref")
    if not target:
        return item
    node: Any = spec
    for part in str(target).removeprefix("#/").split("/"):
        node = node[part]
    return node
