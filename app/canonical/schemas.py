"""Published JSON Schemas for the canonical models, one per (kind, version)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.canonical.acknowledgment import ACKNOWLEDGMENT_V1
from app.canonical.invoice import INVOICE_V1

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

VERSIONS: dict[tuple[str, str], type[BaseModel]] = {
    ("invoice", "1"): INVOICE_V1,
    ("acknowledgment", "1"): ACKNOWLEDGMENT_V1,
}


def schema_id(kind: str, version: str) -> str:
    return f"/api/schemas/{kind}/v{version}.json"


def _normalize_version(version: str) -> str:
    """Accept "1", "v1" and "v1.json" alike, since all three appear in URLs."""
    return version.removesuffix(".json").removeprefix("v")


def json_schema(kind: str, version: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) a sender validates against; KeyError if never published."""
    key = (kind, _normalize_version(version))
    if key not in VERSIONS:
        raise KeyError(f"no published schema for {kind} v{version}")
    # Validation mode: senders see what is accepted (money as a decimal string or a number);
    # the API itself always emits money as strings.
    schema = VERSIONS[key].model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": schema_id(*key), **schema}


def published() -> list[str]:
    """Every schema id the API serves, for an index page."""
    return [schema_id(kind, version) for kind, version in VERSIONS]
