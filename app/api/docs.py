"""The API's public contract: canonical JSON Schemas, the OpenAPI document, and a readable
docs page rendered from that same document on the server (no CDN, no script)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template
from markupsafe import Markup, escape

from app.api.openapi import document
from app.canonical import json_schema

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
    return render_template(
        "api/docs.html",
        spec=spec,
        operations=operations(spec),
        schemas=spec["components"]["schemas"],
    )


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
