"""The OpenAPI 3.1 document of the whole partner API: OAuth endpoints, intake, reading back,
purchase orders and the published schemas. The canonical models come from their pydantic
definitions, so the document cannot drift from what the parsers accept."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from app.canonical import Acknowledgment, Invoice
from app.canonical.schemas import SCHEMA_DIALECT
from app.documents.models import DocumentState
from app.documents.queries import DEFAULT_LIMIT, MAX_LIMIT
from app.erp.interface import OPEN_PO_STATUSES
from app.intake.idempotency import DEFAULT_RETENTION_HOURS
from app.matching.findings import HoldCode
from app.matching.models import HoldStatus
from app.matching.settlement import STATES as SETTLEMENT_STATES
from app.oauth.scopes import SCOPE_DESCRIPTIONS
from app.webhooks.events import EVENT_TYPES, PING

JSON = "application/json"
PROBLEM = "application/problem+json"
FORM = "application/x-www-form-urlencoded"

Spec = dict[str, Any]


def ref(kind: str, name: str) -> Spec:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(name: str) -> Spec:
    return ref("schemas", name)


def json_body(name: str, description: str) -> Spec:
    return {"description": description, "content": {JSON: {"schema": schema_ref(name)}}}


@functools.cache
def document() -> Spec:
    """The OpenAPI document (built once per process; it only depends on code)."""
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": SCHEMA_DIALECT,
        "info": _info(),
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": _with_common_answers(
            {
                **_oauth_paths(),
                **_intake_paths(),
                **_reading_paths(),
                **_schema_paths(),
                **_webhook_paths(),
            }
        ),
        "webhooks": _webhooks(),
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": _responses(),
            "schemas": {**_canonical_schemas(), **API_SCHEMAS, **WEBHOOK_SCHEMAS},
        },
    }


def _info() -> Spec:
    return {
        "title": "Supplier Portal API",
        "version": "1.0.0",
        "summary": "Send invoices and PO acknowledgments to the hospital network; follow them.",
        "description": INFO_DESCRIPTION,
        "contact": {"name": "Integration support", "email": "integration@hospital.example"},
    }


INFO_DESCRIPTION = f"""\
**Authentication.** Get an access token from `POST /oauth/token` with the client credentials
grant, then send it as `Authorization: Bearer <token>`. Each call needs the scope shown on it.

**Acting for a supplier.** A supplier's own client always acts for that supplier. A partner's
client names the supplier with the `On-Behalf-Of` header (the supplier's portal id) or, when
sending documents, by the supplier's portal id, vendor number or tax id inside the document;
a supplier that is not connected to the partner for that document type answers `403`.

**Sending documents.** `POST /api/v1/invoices` and `POST /api/v1/acknowledgments` accept
canonical JSON, UBL 2.1 (Peppol BIS 3), cXML, X12 (810 / 855, 004010 or 005010) and CSV
(invoices only). The format is taken from `Content-Type` and, when that is generic, from the
content. A payload may hold many documents: each becomes its own document and the `202` answer
lists them all; `Location` points at the first. Documents are normalized in the background:
follow them with `GET /api/v1/documents/{{id}}`; a document that cannot be normalized ends
`REJECTED` with every error listed.

**Idempotency.** Send an `Idempotency-Key` (1-255 visible ASCII characters, e.g. a UUID) to
make a retry safe. Keys are per client and kept for at least {DEFAULT_RETENTION_HOURS} hours:
the same key with the same request replays the first answer (with `Idempotent-Replayed: true`),
with a different request answers `422`, and while the first request is still being processed
answers `409` (retry after a second). Without a key, or with a new one, a payload whose exact
bytes you sent before answers `409` with type `.../duplicate-payload` and names, in `document`,
what it became the first time (id, state, link), unless that document was `REJECTED`: the same
file is never stored twice. To change an invoice, send a corrected one with a new number.

**Correlation.** Send `X-Correlation-ID` (or a W3C `traceparent`) to have your id carried
through our logs, jobs and ERP calls; otherwise one is made. It is echoed on every answer.

**Errors** are `application/problem+json` (RFC 9457). Throttled calls answer `429` with
`Retry-After` (seconds) and the `RateLimit` / `RateLimit-Policy` headers.

**Schemas and versions.** The canonical models are versioned; their JSON Schemas are served at
`/api/schemas/invoice/v1.json` and `/api/schemas/acknowledgment/v1.json`. Additive changes
stay in a version; breaking changes get a new one, served beside the old one for at least 12
months, with `Deprecation` and `Sunset` headers on answers about documents in the old one.
"""

TAGS = [
    {"name": "OAuth", "description": "Tokens for client programs (client credentials)."},
    {"name": "Documents", "description": "Send invoices and acknowledgments; read them back."},
    {"name": "Purchase orders", "description": "Open purchase orders from the ERP."},
    {"name": "Schemas", "description": "The published canonical models and this document."},
    {
        "name": "Webhooks",
        "description": "Signed event messages (Standard Webhooks) and their endpoints.",
    },
]

SECURITY_SCHEMES: Spec = {
    "oauth2": {
        "type": "oauth2",
        "description": "Bearer access tokens (JWT) from the client credentials grant.",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPE_DESCRIPTIONS}},
    },
    "clientSecretBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "client_id and client_secret (client_secret_basic).",
    },
}

ERROR_RESPONSES = {
    "BadRequest": (400, "The request or its payload cannot be read (what and where)."),
    "Unauthorized": (401, "No valid access token."),
    "Forbidden": (403, "The token lacks the scope, or the client may not act for that supplier."),
    "NotFound": (404, "No such resource for this caller (another organization's ids included)."),
    "Conflict": (409, "A request with this Idempotency-Key is still being processed."),
    "PayloadTooLarge": (
        413,
        "The payload is larger than allowed (a gzip payload: once inflated, MAX_CONTENT_LENGTH).",
    ),
    "UnsupportedMediaType": (
        415,
        "The Content-Type is not one of the accepted formats, or the Content-Encoding is not "
        "gzip or identity (Accept-Encoding names those accepted).",
    ),
    "PayloadConflict": (
        409,
        "The payload's exact bytes were sent before (type `.../duplicate-payload`: `document` "
        "names what they became; send a corrected document, or retry with an Idempotency-Key "
        "to get the first answer), or a request with this Idempotency-Key or these bytes is "
        "still being processed (retry after `Retry-After` seconds).",
    ),
    "AlreadyAnswered": (409, "The question was already answered (perhaps in the portal)."),
    "KeyReused": (422, "This Idempotency-Key was used with a different request."),
    "ErpUnavailable": (
        503,
        "The ERP or a dependency (the database, the token revocation list) is not answering; "
        "retry after `Retry-After` seconds.",
    ),
}


def _responses() -> Spec:
    responses: Spec = {
        name: {"description": text, "content": {PROBLEM: {"schema": schema_ref("Problem")}}}
        for name, (_, text) in ERROR_RESPONSES.items()
    }
    responses["PayloadConflict"]["content"][PROBLEM]["schema"] = schema_ref("PayloadConflict")
    responses["TooManyRequests"] = {
        "description": "Throttled: wait `Retry-After` seconds.",
        "headers": {
            "Retry-After": ref("headers", "RetryAfter"),
            "RateLimit": ref("headers", "RateLimit"),
            "RateLimit-Policy": ref("headers", "RateLimitPolicy"),
        },
        "content": {PROBLEM: {"schema": schema_ref("Problem")}},
    }
    return responses


def _with_common_answers(paths: Spec) -> Spec:
    """Answers any operation may give, so every status the API can answer is documented:
    a token-protected call can meet the token checks (401, 403, 429) and a dependency that is
    down (503); any call that reads the database a lost connection (503); any POST a body over
    MAX_CONTENT_LENGTH (413). Published schemas are static and answer neither."""
    for item in paths.values():
        for method, operation in item.items():
            answers = operation["responses"]
            if {"oauth2"} & {name for need in operation.get("security", []) for name in need}:
                for name, answer in errors("Unauthorized", "Forbidden", "TooManyRequests").items():
                    answers.setdefault(name, answer)
            if "Schemas" not in operation.get("tags", []):
                answers.setdefault("503", ref("responses", "ErpUnavailable"))
            if method == "post":
                answers.setdefault("413", ref("responses", "PayloadTooLarge"))
    return paths


def errors(*names: str) -> Spec:
    """Response references keyed by status, for an operation's `responses`."""
    table = {name: status for name, (status, _) in ERROR_RESPONSES.items()}
    table["TooManyRequests"] = 429
    return {str(table[name]): ref("responses", name) for name in names}


HEADERS: Spec = {
    "RetryAfter": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
    "RateLimit": {
        "description": "Remaining quota (IETF RateLimit header).",
        "schema": {"type": "string"},
    },
    "RateLimitPolicy": {"description": "The limits in force.", "schema": {"type": "string"}},
    "CorrelationId": {
        "description": "The correlation id of this request.",
        "schema": {"type": "string"},
    },
    "Location": {"description": "The (first) document's URL.", "schema": {"type": "string"}},
    "IdempotentReplayed": {
        "description": "`true` when the answer is the stored answer to an earlier request.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _header_param(name: str, description: str, **schema: Any) -> Spec:
    return {
        "name": name,
        "in": "header",
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _query_param(name: str, description: str, schema: Spec, **extra: Any) -> Spec:
    return {"name": name, "in": "query", "description": description, "schema": schema, **extra}


PARAMETERS: Spec = {
    "IdempotencyKey": _header_param(
        "Idempotency-Key",
        f"Makes a retry safe; kept per client for at least {DEFAULT_RETENTION_HOURS} hours.",
        minLength=1,
        maxLength=255,
    ),
    "OnBehalfOf": _header_param(
        "On-Behalf-Of", "Portal id of the supplier a partner acts for.", pattern="^[0-9]+$"
    ),
    "CorrelationId": _header_param(
        "X-Correlation-ID", "Your id for this request, carried through logs, jobs and ERP calls."
    ),
    "Traceparent": _header_param(
        "traceparent", "W3C trace context; its trace id is used as correlation id."
    ),
    "DocumentId": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "QuestionId": {
        "name": "question_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    },
    "Cursor": _query_param("cursor", "`next_cursor` of the previous page.", {"type": "string"}),
    "Limit": _query_param(
        "limit",
        "Page size.",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    ),
    "State": _query_param(
        "state",
        "Only documents in these states (repeat the parameter or separate with commas).",
        {"type": "array", "items": {"type": "string", "enum": [s.value for s in DocumentState]}},
        style="form",
        explode=True,
    ),
    "UpdatedSince": _query_param(
        "updated_since",
        "Only documents changed at or after this time (RFC 3339).",
        {"type": "string", "format": "date-time"},
    ),
    "WebhookId": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "DeliveryLimit": _query_param(
        "limit",
        "How many messages, newest first.",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    ),
    "PoStatus": _query_param(
        "status",
        "Only purchase orders in this status (default: all that are still open).",
        {"type": "string", "enum": [str(status) for status in OPEN_PO_STATUSES]},
    ),
}


def _params(*names: str) -> list[Spec]:
    return [ref("parameters", name) for name in names]


# -- OAuth (served by app/oauth) ---------------------------------------------------------------


def _form(properties: Spec, required: list[str]) -> Spec:
    return {
        "required": True,
        "content": {
            FORM: {"schema": {"type": "object", "properties": properties, "required": required}}
        },
    }


CLIENT_AUTH_FIELDS: Spec = {
    "client_id": {"type": "string", "description": "client_secret_post / private_key_jwt"},
    "client_secret": {"type": "string", "description": "client_secret_post"},
    "client_assertion_type": {"const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
    "client_assertion": {"type": "string", "description": "private_key_jwt: a signed JWT"},
}
CLIENT_AUTH_SECURITY: list[Spec] = [{"clientSecretBasic": []}, {}]
INVALID_CLIENT = "invalid_client: the client is unknown, or its credentials are wrong or missing."
FORM_ERRORS = (
    "invalid_request (no `token`, or client credentials sent two ways at once) or "
    "unsupported_token_type (RFC 7009, RFC 7662)."
)


def oauth_error(description: str) -> Spec:
    """An OAuth error answer: RFC 6749 section 5.2 JSON, not problem+json."""
    return json_body("OAuthError", description)


def _oauth_paths() -> Spec:
    # Introspection and revocation take the same form: a token and the client's credentials.
    token_form = _form(
        {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string"},
            **CLIENT_AUTH_FIELDS,
        },
        ["token"],
    )
    return {
        "/oauth/token": {
            "post": {
                "tags": ["OAuth"],
                "summary": "Get an access token (client credentials)",
                "description": "Authenticate with client_secret_basic, client_secret_post or private_key_jwt.",
                "security": CLIENT_AUTH_SECURITY,
                "requestBody": _form(
                    {
                        "grant_type": {"const": "client_credentials"},
                        "scope": {"type": "string"},
                        **CLIENT_AUTH_FIELDS,
                    },
                    ["grant_type"],
                ),
                "responses": {
                    "200": json_body("TokenResponse", "A bearer token."),
                    "400": oauth_error(
                        "invalid_request, invalid_scope, unauthorized_client, "
                        "unsupported_grant_type (RFC 6749)."
                    ),
                    "401": oauth_error(INVALID_CLIENT),
                    **errors("TooManyRequests"),
                },
            }
        },
        "/oauth/introspect": {
            "post": {
                "tags": ["OAuth"],
                "summary": "Introspect one of your tokens (RFC 7662)",
                "security": CLIENT_AUTH_SECURITY,
                "requestBody": token_form,
                "responses": {
                    "200": json_body(
                        "Introspection", "`active: false` for a token not yours or not valid."
                    ),
                    "400": oauth_error(FORM_ERRORS),
                    "401": oauth_error(INVALID_CLIENT),
                },
            }
        },
        "/oauth/revoke": {
            "post": {
                "tags": ["OAuth"],
                "summary": "Revoke one of your tokens (RFC 7009)",
                "security": CLIENT_AUTH_SECURITY,
                "requestBody": token_form,
                "responses": {
                    "200": {"description": "Revoked (or nothing to revoke)."},
                    "400": oauth_error(FORM_ERRORS),
                    "401": oauth_error(INVALID_CLIENT),
                },
            }
        },
        "/.well-known/oauth-authorization-server": {
            "get": {
                "tags": ["OAuth"],
                "summary": "Authorization server metadata (RFC 8414)",
                "security": [],
                "responses": {"200": json_body("ServerMetadata", "Endpoints, scopes and methods.")},
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "tags": ["OAuth"],
                "summary": "Public keys that verify our access tokens",
                "security": [],
                "responses": {"200": json_body("Jwks", "A JSON Web Key Set (RFC 7517).")},
            }
        },
        "/api/v1/me": {
            "get": {
                "tags": ["OAuth"],
                "summary": "The calling client, its organization and its scopes",
                "security": [{"oauth2": []}],
                "parameters": _params("OnBehalfOf"),
                "responses": {
                    "200": json_body("Me", "Who the token belongs to."),
                    **errors("BadRequest", "Unauthorized", "Forbidden", "TooManyRequests"),
                },
            }
        },
    }


# -- intake ------------------------------------------------------------------------------------


def _raw(description: str) -> Spec:
    return {"schema": {"type": "string", "description": description}}


def _intake_body(kind: str) -> Spec:
    model = "Invoice" if kind == "invoice" else "Acknowledgment"
    many = {
        "type": "object",
        "required": ["documents"],
        "properties": {"documents": {"type": "array", "minItems": 1, "items": schema_ref(model)}},
    }
    content: Spec = {
        JSON: {
            "schema": {"oneOf": [schema_ref(model), many]},
            "example": EXAMPLE_INVOICE if kind == "invoice" else EXAMPLE_ACKNOWLEDGMENT,
        },
        "application/xml": _raw(
            "UBL 2.1 Invoice or CreditNote (Peppol BIS Billing 3.0), or cXML InvoiceDetailRequest"
            if kind == "invoice"
            else "Peppol Order Response (UBL OrderResponse), or cXML ConfirmationRequest"
        ),
        "application/edi-x12": _raw(
            "An X12 interchange of 810 (invoice) transaction sets, 004010 or 005010"
            if kind == "invoice"
            else "An X12 interchange of 855 (PO acknowledgment) transaction sets"
        ),
    }
    if kind == "invoice":
        content["text/csv"] = _raw(
            "One row per line item, grouped by invoice_number; see the CSV guide"
        )
    return {"required": True, "content": content}


def _post_documents(kind: str, scope: str) -> Spec:
    plural = f"{kind}s"
    return {
        "post": {
            "tags": ["Documents"],
            "summary": f"Send {plural}",
            "description": f"Accepts the payload and answers at once; each {kind} in it is normalized in the background.",
            "security": [{"oauth2": [scope]}],
            "parameters": _params("IdempotencyKey", "OnBehalfOf", "CorrelationId", "Traceparent"),
            "requestBody": _intake_body(kind),
            "responses": {
                "202": {
                    **json_body(
                        "DocumentsAccepted", "Accepted: the documents found, each RECEIVED."
                    ),
                    "headers": {
                        "Location": ref("headers", "Location"),
                        "X-Correlation-ID": ref("headers", "CorrelationId"),
                        "Idempotent-Replayed": ref("headers", "IdempotentReplayed"),
                    },
                },
                **errors(
                    "BadRequest",
                    "Unauthorized",
                    "Forbidden",
                    "PayloadConflict",
                    "PayloadTooLarge",
                    "UnsupportedMediaType",
                    "KeyReused",
                    "TooManyRequests",
                ),
            },
        }
    }


def _intake_paths() -> Spec:
    return {
        "/api/v1/invoices": {
            **_post_documents("invoice", "invoices:write"),
            "get": {
                "tags": ["Documents"],
                "summary": "List invoices, oldest change first",
                "description": "Cursor pagination: pass `next_cursor` back as `cursor` until it is null. "
                "Sync by remembering the `updated_at` of the last item and passing it as `updated_since`.",
                "security": [{"oauth2": ["invoices:read"]}],
                "parameters": _params("State", "UpdatedSince", "Cursor", "Limit"),
                "responses": {
                    "200": json_body(
                        "DocumentPage", 'One page; `Link: <...>; rel="next"` when there is more.'
                    ),
                    **errors("BadRequest", "Unauthorized", "Forbidden", "TooManyRequests"),
                },
            },
        },
        "/api/v1/acknowledgments": _post_documents("acknowledgment", "acknowledgments:write"),
    }


def _reading_paths() -> Spec:
    return {
        "/api/v1/documents/{id}": {
            "get": {
                "tags": ["Documents"],
                "summary": "One document: state, errors, holds, timeline and canonical content",
                "description": "An invoice lists every hold it was ever given, open and released, "
                "as the supplier may see them: the hold code, its status, the message written "
                "for the supplier and the invoice line it concerns. An open hold keeps the "
                "invoice ON_HOLD, except a disputed line (code DISPUTE): the rest of the invoice "
                "goes on to be posted without that line, whose amount stays held until the "
                "dispute is settled. Finance's own wording, expected and actual figures, amounts "
                "at risk, internal notes and comments are never returned. `questions` lists what "
                "accounts payable asked the supplier about a held invoice: an unanswered one "
                "keeps the invoice waiting on the supplier; answer it with "
                "`POST .../questions/{question_id}/answer`. A document of another "
                "organization answers 404, exactly like one that does not exist.",
                "security": [{"oauth2": ["documents:read"]}],
                "parameters": _params("DocumentId"),
                "responses": {
                    "200": json_body(
                        "DocumentDetail", "The document as its sender or supplier may see it."
                    ),
                    **errors("Unauthorized", "Forbidden", "NotFound", "TooManyRequests"),
                },
            }
        },
        "/api/v1/documents/{id}/questions/{question_id}/answer": {
            "post": {
                "tags": ["Documents"],
                "summary": "Answer a question accounts payable asked about a held invoice",
                "description": "For the invoice's supplier: its own client, or a partner's "
                "client connected to it for invoices. The answer goes back to accounts payable "
                "and is kept with the invoice (audited with the client as the actor). A question "
                "of another organization's document answers 404; a question already answered "
                "answers 409.",
                "security": [{"oauth2": ["invoices:write"]}],
                "parameters": _params("DocumentId", "QuestionId", "CorrelationId"),
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": schema_ref("Answer")}},
                },
                "responses": {
                    "200": json_body("Question", "The question with its answer."),
                    **errors(
                        "BadRequest",
                        "Unauthorized",
                        "Forbidden",
                        "NotFound",
                        "AlreadyAnswered",
                        "TooManyRequests",
                    ),
                },
            }
        },
        "/api/v1/purchase-orders": {
            "get": {
                "tags": ["Purchase orders"],
                "summary": "Open purchase orders of your supplier, or of the suppliers connected to you",
                "description": "A partner without `On-Behalf-Of` gets the POs of every connected supplier that allowed purchase orders.",
                "security": [{"oauth2": ["purchase-orders:read"]}],
                "parameters": _params("OnBehalfOf", "PoStatus", "CorrelationId"),
                "responses": {
                    "200": json_body("PurchaseOrderList", "Purchase orders from the ERP."),
                    **errors(
                        "BadRequest",
                        "Unauthorized",
                        "Forbidden",
                        "TooManyRequests",
                        "ErpUnavailable",
                    ),
                },
            }
        },
    }


def _schema_paths() -> Spec:
    def published(kind: str) -> Spec:
        return {
            "get": {
                "tags": ["Schemas"],
                "summary": f"JSON Schema of the canonical {kind}, version 1",
                "security": [],
                "responses": {
                    "200": {
                        "description": "JSON Schema 2020-12.",
                        "content": {"application/schema+json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }

    return {
        "/api/schemas/invoice/v1.json": published("invoice"),
        "/api/schemas/acknowledgment/v1.json": published("acknowledgment"),
        "/api/openapi.json": {
            "get": {
                "tags": ["Schemas"],
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


# -- schemas -----------------------------------------------------------------------------------


# Filled in by the portal's parser: a sender need not send them (readOnly, not required).
SET_BY_PORTAL = ("source_format", "parser_version")


def _canonical_schemas() -> Spec:
    _, schema = models_json_schema(
        [(Invoice, "validation"), (Acknowledgment, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    defs = schema["$defs"]
    for name in ("Invoice", "Acknowledgment"):
        model = defs[name]
        model["required"] = [field for field in model["required"] if field not in SET_BY_PORTAL]
        for field in SET_BY_PORTAL:
            model["properties"][field] = {**model["properties"][field], "readOnly": True}
    return defs


EXAMPLE_INVOICE: Spec = {
    "invoice_number": "INV-1001",
    "issue_date": "2026-01-15",
    "currency": "USD",
    "supplier": {"name": "Acme Medical"},
    "po_number": "PO-1001",
    "lines": [
        {
            "line_id": "1",
            "description": "Sterile gauze 4x4",
            "quantity": "10",
            "unit_code": "EA",
            "unit_price": "2.50",
            "line_extension_amount": "25.00",
            "po_line": "1",
        }
    ],
    "totals": {"line_total": "25.00", "tax_total": "0", "payable": "25.00"},
}
EXAMPLE_ACKNOWLEDGMENT: Spec = {
    "ack_number": "ACK-1001",
    "po_number": "PO-1001",
    "issue_date": "2026-01-15",
    "status": "accepted",
    "lines": [{"po_line": "1", "status": "accept"}],
}


def _obj(properties: Spec, required: list[str] | None = None, **extra: Any) -> Spec:
    return {
        "type": "object",
        "properties": properties,
        "required": required or list(properties),
        **extra,
    }


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
MONEY = {
    "type": ["string", "null"],
    "description": "Decimal as a string",
    "pattern": r"^-?\d+(\.\d+)?$",
}
TIME = {"type": "string", "format": "date-time"}
STATE = {"type": "string", "enum": [s.value for s in DocumentState]}
KIND = {"type": "string", "enum": ["invoice", "acknowledgment"]}

API_SCHEMAS: Spec = {
    "Problem": _obj(
        {
            "type": STRING,
            "title": STRING,
            "status": INTEGER,
            "detail": STRING,
            "correlation_id": STRING,
            "errors": {
                "type": "array",
                "items": {"type": "object"},
                "description": "What is wrong and where",
            },
        },
        ["type", "title", "status", "detail"],
        description="RFC 9457 problem details.",
    ),
    "PayloadConflict": {
        "allOf": [
            schema_ref("Problem"),
            {
                "type": "object",
                "properties": {
                    "document": _obj(
                        {"id": INTEGER, "state": STATE, "href": STRING},
                        description="The document the same bytes became the first time",
                    )
                },
            },
        ],
        "description": "A 409 on intake; `document` is present when the payload was sent before.",
    },
    "AcceptedDocument": _obj(
        {"id": INTEGER, "kind": KIND, "state": STATE, "identity": STRING, "href": STRING}
    ),
    "DocumentsAccepted": _obj(
        {
            "documents": {"type": "array", "items": schema_ref("AcceptedDocument")},
            "format": {"type": "string", "enum": ["json", "ubl", "cxml", "x12", "csv"]},
            "correlation_id": STRING,
        }
    ),
    "FieldError": _obj({"path": STRING, "message": STRING, "code": STRING}),
    "TimelineEntry": _obj(
        {
            "at": TIME,
            "from_state": {"type": ["string", "null"]},
            "state": STATE,
            "by": STRING,
            "reason": STRING,
        }
    ),
    "Hold": _obj(
        {
            "code": {"type": "string", "enum": [code.value for code in HoldCode]},
            "status": {"type": "string", "enum": [status.value for status in HoldStatus]},
            "message": {
                "type": "string",
                "description": "What is wrong and what to do, written for the supplier",
            },
            "line": {
                "type": ["string", "null"],
                "description": "The invoice line the hold concerns; null for the whole invoice",
            },
            "settlement": {
                "oneOf": [
                    _obj(
                        {
                            "state": {
                                "type": "string",
                                "enum": list(SETTLEMENT_STATES),
                                "description": "accepted: being booked on its own; booked: "
                                "booked on its own, not paid yet; paid: paid on its own; "
                                "refused: the hospital's accounting system could not enter it "
                                "(accounts payable is looking at it)",
                            },
                            "paid_on": {"type": ["string", "null"], "format": "date"},
                            "reference": NULLABLE_STRING,
                        }
                    ),
                    {"type": "null"},
                ],
                "description": "For a disputed line accepted after the rest of the invoice was "
                "booked without it: the line is booked and paid on its own, and this says how "
                "far (paid_on and reference once paid). Null for every other hold",
            },
        },
        description="Why an invoice is held, as its supplier may see it",
    ),
    "Question": _obj(
        {
            "id": INTEGER,
            "question": STRING,
            "asked_at": TIME,
            "answered": {"type": "boolean"},
            "answer": NULLABLE_STRING,
            "answered_at": {"type": ["string", "null"], "format": "date-time"},
            "answer_href": {"type": "string", "description": "Where to POST the answer"},
        },
        description="A question accounts payable asked the supplier about a held invoice",
    ),
    "Answer": _obj(
        {"answer": {"type": "string", "minLength": 1, "maxLength": 2000}},
        description="The supplier's answer",
    ),
    "DocumentSummary": _obj(
        {
            "id": INTEGER,
            "kind": KIND,
            "state": STATE,
            "document_number": NULLABLE_STRING,
            "po_number": NULLABLE_STRING,
            "currency": NULLABLE_STRING,
            "total_amount": MONEY,
            "supplier_id": {"type": ["integer", "null"]},
            "sender_id": INTEGER,
            "source_format": STRING,
            "received_at": TIME,
            "updated_at": TIME,
            "href": STRING,
        }
    ),
    "DocumentDetail": {
        "allOf": [
            schema_ref("DocumentSummary"),
            _obj(
                {
                    "identity": {"type": "string", "description": "Where it sat in the payload"},
                    "parser_version": NULLABLE_STRING,
                    "correlation_id": NULLABLE_STRING,
                    "errors": {"type": "array", "items": schema_ref("FieldError")},
                    "timeline": {"type": "array", "items": schema_ref("TimelineEntry")},
                    "holds": {
                        "type": "array",
                        "items": schema_ref("Hold"),
                        "description": "Why an invoice is or was held, as the supplier may see "
                        "it (never finance's internal notes); released holds stay listed, and an "
                        "open DISPUTE holds one line of an invoice that went on without it (once "
                        "released, its settlement says how the line was booked and paid)",
                    },
                    "questions": {
                        "type": "array",
                        "items": schema_ref("Question"),
                        "description": "Questions accounts payable asked the supplier, oldest "
                        "first; an unanswered one waits on the supplier",
                    },
                    "payment": {
                        "oneOf": [
                            _obj(
                                {
                                    "paid_on": {"type": "string", "format": "date"},
                                    "reference": NULLABLE_STRING,
                                }
                            ),
                            {"type": "null"},
                        ],
                        "description": "A PAID invoice's payment date and reference, from the ERP",
                    },
                    "document": {
                        "oneOf": [
                            schema_ref("Invoice"),
                            schema_ref("Acknowledgment"),
                            {"type": "null"},
                        ],
                        "description": "The canonical document, once normalized",
                    },
                }
            ),
        ]
    },
    "DocumentPage": _obj(
        {
            "data": {"type": "array", "items": schema_ref("DocumentSummary")},
            "next_cursor": NULLABLE_STRING,
        }
    ),
    "PurchaseOrderLine": _obj(
        {
            "line_number": INTEGER,
            "item_number": STRING,
            "description": STRING,
            "unit": STRING,
            "quantity": STRING,
            "quantity_received": STRING,
            "unit_price": STRING,
            "amount": STRING,
            "need_by_date": {"type": "string", "format": "date"},
        }
    ),
    "PurchaseOrder": _obj(
        {
            "number": STRING,
            "supplier_id": INTEGER,
            "vendor_number": STRING,
            "status": {"type": "string", "enum": [str(status) for status in OPEN_PO_STATUSES]},
            "currency": STRING,
            "order_date": {"type": "string", "format": "date"},
            "facility_code": STRING,
            "cost_centre": STRING,
            "buyer_email": NULLABLE_STRING,
            "total_amount": STRING,
            "lines": {"type": "array", "items": schema_ref("PurchaseOrderLine")},
        }
    ),
    "PurchaseOrderList": _obj({"data": {"type": "array", "items": schema_ref("PurchaseOrder")}}),
    "OAuthError": _obj(
        {
            "error": STRING,
            "error_description": STRING,
            "error_uri": STRING,
            "state": STRING,
        },
        ["error"],
        description="RFC 6749 error response.",
    ),
    "TokenResponse": _obj(
        {
            "access_token": STRING,
            "token_type": {"const": "Bearer"},
            "expires_in": INTEGER,
            "scope": STRING,
        }
    ),
    "Introspection": _obj(
        {
            "active": {"type": "boolean"},
            "scope": STRING,
            "client_id": STRING,
            "token_type": STRING,
            "sub": STRING,
            "aud": STRING,
            "iss": STRING,
            "exp": INTEGER,
            "iat": INTEGER,
            "jti": STRING,
        },
        ["active"],
    ),
    "ServerMetadata": {
        "type": "object",
        "description": "RFC 8414 metadata.",
        "required": ["issuer", "token_endpoint"],
    },
    "Jwks": _obj({"keys": {"type": "array", "items": {"type": "object"}}}),
    "Me": _obj(
        {
            "client": _obj({"client_id": STRING, "name": STRING}),
            "organization": _obj(
                {"id": INTEGER, "name": STRING, "kind": {"enum": ["supplier", "partner"]}}
            ),
            "scopes": {"type": "array", "items": STRING},
            "token_expires_at": {"type": "integer", "description": "Unix time"},
            "connected_suppliers": {
                "type": "array",
                "items": schema_ref("ActingFor"),
                "description": "Partners only: suppliers connected to you",
            },
            "acting_for": {
                **schema_ref("ActingFor"),
                "description": "With On-Behalf-Of: what you may send for that supplier",
            },
        },
        ["client", "organization", "scopes", "token_expires_at"],
    ),
    "ActingFor": _obj(
        {
            "id": INTEGER,
            "name": STRING,
            "document_types": {
                "type": "array",
                "items": {"enum": ["invoices", "acknowledgments", "purchase_orders"]},
            },
        }
    ),
}


# -- webhooks (served by app/api/webhooks.py) --------------------------------------------------

WEBHOOK_ERRORS = ("Unauthorized", "Forbidden", "TooManyRequests")


def _webhook_operation(
    summary: str,
    answer: tuple[str, Spec],
    *extra_errors: str,
    body: Spec | None = None,
    parameters: tuple[str, ...] = ("WebhookId",),
) -> Spec:
    status, response = answer
    operation: Spec = {
        "tags": ["Webhooks"],
        "summary": summary,
        "security": [{"oauth2": ["webhooks:manage"]}],
        "parameters": _params(*parameters),
        "responses": {status: response, **errors(*extra_errors, *WEBHOOK_ERRORS)},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": body}},
        }
    return operation


def _webhook_paths() -> Spec:
    with_secret = json_body(
        "WebhookEndpointWithSecret", "The endpoint and its signing secret, shown this once."
    )
    no_store = {"Cache-Control": {"description": "no-store", "schema": {"type": "string"}}}
    return {
        "/api/v1/webhooks": {
            "get": _webhook_operation(
                "Your webhook endpoints",
                ("200", json_body("WebhookEndpointList", "Every endpoint of your organization.")),
                parameters=(),
            ),
            "post": _webhook_operation(
                "Subscribe an endpoint",
                (
                    "201",
                    {
                        **with_secret,
                        "headers": {"Location": ref("headers", "Location"), **no_store},
                    },
                ),
                "BadRequest",
                body=schema_ref("WebhookEndpointCreate"),
                parameters=(),
            ),
        },
        "/api/v1/webhooks/{id}": {
            "get": _webhook_operation(
                "One endpoint",
                ("200", json_body("WebhookEndpoint", "The endpoint (never its secret).")),
                "NotFound",
            ),
            "patch": _webhook_operation(
                "Change an endpoint: URL, events, description, enabled",
                ("200", json_body("WebhookEndpoint", "The endpoint as changed.")),
                "BadRequest",
                "NotFound",
                body=schema_ref("WebhookEndpointPatch"),
            ),
            "delete": _webhook_operation(
                "Delete an endpoint and its delivery log",
                ("204", {"description": "Deleted."}),
                "NotFound",
            ),
        },
        "/api/v1/webhooks/{id}/rotate-secret": {
            "post": _webhook_operation(
                "Make a new signing secret; the old one also signs for the overlap",
                ("200", {**with_secret, "headers": no_store}),
                "NotFound",
            )
        },
        "/api/v1/webhooks/{id}/ping": {
            "post": _webhook_operation(
                "Send a test message (event webhook.test)",
                ("202", json_body("WebhookDelivery", "The message, owed and about to be sent.")),
                "BadRequest",
                "NotFound",
            )
        },
        "/api/v1/webhooks/{id}/deliveries": {
            "get": _webhook_operation(
                "The delivery log, newest first, with every attempt",
                ("200", json_body("WebhookDeliveryList", "Messages and their attempts.")),
                "BadRequest",
                "NotFound",
                parameters=("WebhookId", "DeliveryLimit"),
            )
        },
    }


def _webhooks() -> Spec:
    """The messages the portal sends (OpenAPI 3.1 `webhooks`)."""
    signed = [
        _header_param("webhook-id", "The message id; the same for every attempt of it."),
        _header_param("webhook-timestamp", "Unix time of this attempt."),
        _header_param(
            "webhook-signature",
            'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per '
            "secret in force (two while a secret rotates).",
        ),
    ]
    return {
        "documentEvent": {
            "post": {
                "tags": ["Webhooks"],
                "summary": "A document changed (or a test message)",
                "description": "Sent to each of your endpoints that subscribes to the event. "
                "Verify the signature (Standard Webhooks), answer 2xx within 10 seconds, then "
                "fetch the document from `data.href` with your token. Failed messages are "
                "retried with backoff for three days (honouring `Retry-After`); `410 Gone` "
                "disables the endpoint, and so do five days of failures.",
                "parameters": signed,
                "requestBody": json_body("WebhookEvent", "The thin event."),
                "responses": {
                    "200": {"description": "Received (any 2xx)."},
                    "410": {"description": "Gone: the endpoint is disabled."},
                },
            }
        }
    }


EVENT_TYPE = {"type": "string", "enum": [*EVENT_TYPES, PING]}
WEBHOOK_SCHEMAS: Spec = {
    "WebhookEndpoint": _obj(
        {
            "id": INTEGER,
            "url": STRING,
            "description": STRING,
            "event_types": {
                "type": "array",
                "items": {"type": "string", "enum": list(EVENT_TYPES)},
            },
            "enabled": {"type": "boolean"},
            "disabled_reason": NULLABLE_STRING,
            "created_at": TIME,
            "previous_secret_expires_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "Until then the previous secret also signs",
            },
            "href": STRING,
        }
    ),
    "WebhookEndpointWithSecret": {
        "allOf": [
            schema_ref("WebhookEndpoint"),
            _obj({"secret": {"type": "string", "pattern": "^whsec_"}}),
        ]
    },
    "WebhookEndpointList": _obj(
        {"data": {"type": "array", "items": schema_ref("WebhookEndpoint")}}
    ),
    "WebhookEndpointCreate": _obj(
        {
            "url": {"type": "string", "maxLength": 2000, "description": "https; a public address"},
            "event_types": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(EVENT_TYPES)},
            },
            "description": {"type": "string", "maxLength": 200},
        },
        ["url", "event_types"],
    ),
    "WebhookEndpointPatch": _obj(
        {
            "url": {"type": "string", "maxLength": 2000},
            "event_types": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(EVENT_TYPES)},
            },
            "description": {"type": "string", "maxLength": 200},
            "enabled": {"type": "boolean"},
        },
        [],
        additionalProperties=False,
    ),
    "WebhookAttempt": _obj(
        {
            "number": INTEGER,
            "at": TIME,
            "status_code": {"type": ["integer", "null"]},
            "duration_ms": INTEGER,
            "response_excerpt": {"type": "string", "description": "The answer's first bytes"},
            "error": NULLABLE_STRING,
        }
    ),
    "WebhookDelivery": _obj(
        {
            "id": INTEGER,
            "message_id": STRING,
            "event_type": EVENT_TYPE,
            "document_id": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "created_at": TIME,
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "attempts": {"type": "array", "items": schema_ref("WebhookAttempt")},
        }
    ),
    "WebhookDeliveryList": _obj(
        {"data": {"type": "array", "items": schema_ref("WebhookDelivery")}}
    ),
    "WebhookEvent": _obj(
        {
            "type": EVENT_TYPE,
            "timestamp": TIME,
            "data": {
                "type": "object",
                "description": "Empty for webhook.test",
                "properties": {
                    "document_id": INTEGER,
                    "kind": KIND,
                    "state": STATE,
                    "previous_state": {"type": ["string", "null"]},
                    "href": {"type": "string", "description": "Read the document here"},
                },
            },
        }
    ),
}
