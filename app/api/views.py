"""The partner API, /api/v1: thin views over intake, the document queries and the ERP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from app.api import representations as rep
from app.api.errors import BadParameterError
from app.api.quota import charge_daily_quota
from app.db import db
from app.documents import queries
from app.documents.models import Channel, DocumentKind, DocumentState
from app.erp import get_erp
from app.erp.errors import ErpError
from app.erp.interface import OPEN_PO_STATUSES
from app.extensions import csrf
from app.formats import Identified
from app.holds import answers
from app.holds.models import Question
from app.holds.services import HoldActionError, HoldChangedError
from app.intake import encoding, idempotency, services, suppliers
from app.intake.idempotency import Answer
from app.intake.repeats import RepeatedPayloadError
from app.matching.queries import holds_of
from app.oauth.resource import (
    current_client,
    on_behalf_of_header,
    require_token,
    resolve_supplier,
)
from app.orgs.models import ConnectionScope, Organization, OrgKind
from app.orgs.scope import suppliers_for
from app.problems import problem

bp = Blueprint("partner_api", __name__, url_prefix="/api")
# Bearer tokens, not cookies, authorize these calls: there is no session to forge a request in.
csrf.exempt(bp)

ERP_RETRY_AFTER = "30"


@bp.post("/v1/invoices")
@require_token("invoices:write")
def post_invoices() -> Response:
    return _submit(DocumentKind.INVOICE, ConnectionScope.INVOICES)


@bp.post("/v1/acknowledgments")
@require_token("acknowledgments:write")
def post_acknowledgments() -> Response:
    return _submit(DocumentKind.ACKNOWLEDGMENT, ConnectionScope.ACKNOWLEDGMENTS)


def _submit(kind: DocumentKind, scope: ConnectionScope) -> Response:
    client = current_client()
    key = idempotency.key_from(request.headers)
    on_behalf_of = on_behalf_of_header()
    # Past MAX_CONTENT_LENGTH reading raises 413; a gzip body inflates no further than it.
    # The raw body stays cached on the request: a retry after a lost database connection
    # (app.db.unit_of_work_retried) reads it again.
    body = encoding.decode(
        request.get_data(),
        request.headers.get("Content-Encoding"),
        current_app.config["MAX_CONTENT_LENGTH"],
    )
    content_type = request.headers.get("Content-Type", "")
    # Only a keyed request is ever compared with an earlier one.
    request_hash = (
        idempotency.fingerprint(request.method, request.path, content_type, str(on_behalf_of), body)
        if key
        else ""
    )
    if key and (replay := idempotency.claim(client.id, key, request_hash)):
        return _respond(replay, replayed=True)
    submission = services.Submission(
        kind=kind,
        body=body,
        content_type=content_type,
        sender=client.organization,
        channel=Channel.API,
        client_id=client.id,
        correlation_id=g.correlation_id,
    )
    try:
        accepted = services.submit(
            submission,
            _supplier_of(scope, on_behalf_of, client.organization),
            actor=f"api client {client.client_id}",
            charge=lambda count: charge_daily_quota(client, count),
        )
    except RepeatedPayloadError as error:
        return _repeated(error)
    answer = _accepted(accepted)
    if key:
        idempotency.remember(client.id, key, request_hash, answer)
    return _respond(answer)


def _supplier_of(
    scope: ConnectionScope, on_behalf_of: int | None, sender: Organization
) -> services.SupplierOf:
    """The supplier of each document; ApiForbidden (403) if the sender may not act for it."""
    resolved: dict[int | None, Organization] = {}

    def supplier_of(document: Identified) -> Organization:
        wanted = on_behalf_of
        if wanted is None and sender.kind == OrgKind.PARTNER:
            wanted = suppliers.named_supplier_id(document.supplier, sender.id)
        if wanted not in resolved:
            resolved[wanted] = resolve_supplier(scope, wanted)
        return resolved[wanted]

    return supplier_of


def _accepted(accepted: services.Accepted) -> Answer:
    documents = accepted.documents
    body = {
        "documents": [rep.accepted_document(document) for document in documents],
        "format": accepted.format,
        "correlation_id": g.correlation_id,
    }
    return Answer(202, body, {"Location": rep.document_href(documents[0].id)})


REPEATED = "This payload was already received"
# How an API client avoids the 409 when it only meant to retry.
RETRY_SAFELY = (
    " To retry a request whose answer was lost, send it with an Idempotency-Key: a retry with"
    " the same key gets the first answer again."
)


def _repeated(error: RepeatedPayloadError) -> Response:
    """409: the same bytes were received before; the body names that document."""
    earlier = error.earlier
    detail = str(error) + RETRY_SAFELY
    if earlier is None:  # its twin is being received right now
        return problem(
            409, detail, type_="duplicate-payload", title=REPEATED, headers={"Retry-After": "1"}
        )
    return problem(
        409,
        detail,
        type_="duplicate-payload",
        title=REPEATED,
        document={
            "id": earlier.id,
            "state": earlier.state.value,
            "href": rep.document_href(earlier.id),
        },
    )


def _respond(answer: Answer, *, replayed: bool = False) -> Response:
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# -- reading back ----------------------------------------------------------------------------


@bp.get("/v1/documents/<int:document_id>")
@require_token("documents:read")
def get_document(document_id: int) -> Response:
    document = queries.visible_document(document_id, current_client().organization_id)
    if document is None:
        return problem(404, f"There is no document {document_id}.", type_="not-found")
    return jsonify(
        rep.document_detail(document, holds_of(document.id), answers.questions_of(document.id))
    )


@bp.post("/v1/documents/<int:document_id>/questions/<int:question_id>/answer")
@require_token("invoices:write")
def answer_question(document_id: int, question_id: int) -> Response:
    """The supplier's answer to a question finance asked about its held invoice, sent by its
    own client or a partner's connected for its invoices."""
    client = current_client()
    document = queries.visible_document(document_id, client.organization_id)
    question = db.session.get(Question, question_id) if document is not None else None
    if document is None or question is None or question.document_id != document.id:
        return problem(
            404, f"Document {document_id} has no question {question_id}.", type_="not-found"
        )
    # Acting for the supplier needs the connection for invoices still (ApiForbidden, 403).
    resolve_supplier(ConnectionScope.INVOICES, document.supplier_org_id)
    payload = request.get_json(silent=True)
    text = payload.get("answer") if isinstance(payload, dict) else None
    if not isinstance(text, str):
        raise BadParameterError("answer", 'Send JSON: {"answer": "..."}.')
    try:
        answers.answer_by_client(question, f"api client {client.client_id}", text)
    except HoldChangedError as error:
        return problem(409, str(error), type_="already-answered")
    except HoldActionError as error:
        raise BadParameterError("answer", str(error)) from error
    return jsonify(rep.question(question, document.id))


@bp.get("/v1/invoices")
@require_token("invoices:read")
def list_invoices() -> Response:
    filters = queries.Filters(
        kind=DocumentKind.INVOICE,
        states=_states(request.args.getlist("state")),
        updated_since=_timestamp("updated_since"),
    )
    limit = _limit()
    found = queries.page(
        current_client().organization_id, filters, request.args.get("cursor"), limit
    )
    response = jsonify(
        {
            "data": [rep.document_summary(doc) for doc in found.items],
            "next_cursor": found.next_cursor,
        }
    )
    if found.next_cursor:
        args: dict[str, Any] = {**request.args.to_dict(flat=False), "cursor": found.next_cursor}
        response.headers["Link"] = f'<{url_for("partner_api.list_invoices", **args)}>; rel="next"'
    return response


def _states(values: list[str]) -> list[DocumentState]:
    names = [name.strip().upper() for value in values for name in value.split(",") if name.strip()]
    try:
        return [DocumentState(name) for name in names]
    except ValueError:
        known = ", ".join(state.value for state in DocumentState)
        raise BadParameterError("state", f"state must be among {known}") from None


def _timestamp(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise BadParameterError(name, f"{name} must be an RFC 3339 time with an offset")
    return value


def _limit() -> int:
    raw = request.args.get("limit", str(queries.DEFAULT_LIMIT))
    # ASCII digits, few enough for int(): "²" and 5,000 digits are refused, not a 500.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not (
        1 <= int(raw) <= queries.MAX_LIMIT
    ):
        raise BadParameterError("limit", f"limit must be between 1 and {queries.MAX_LIMIT}")
    return int(raw)


# -- purchase orders -------------------------------------------------------------------------


@bp.get("/v1/purchase-orders")
@require_token("purchase-orders:read")
def list_purchase_orders() -> Response:
    statuses = _po_statuses()
    erp = get_erp()
    data: list[dict[str, Any]] = []
    try:
        for supplier in _po_suppliers():
            orders = erp.list_purchase_orders(
                vendor_number=supplier.erp_vendor_number, correlation_id=g.correlation_id
            )
            data += [rep.purchase_order(po, supplier.id) for po in orders if po.status in statuses]
    except ErpError:
        return problem(
            503,
            "The ERP is not answering; purchase orders cannot be read right now.",
            type_="erp-unavailable",
            headers={"Retry-After": ERP_RETRY_AFTER},
        )
    return jsonify({"data": data})


def _po_statuses() -> tuple[str, ...]:
    wanted = request.args.get("status")
    if wanted is None:
        return OPEN_PO_STATUSES
    if wanted not in OPEN_PO_STATUSES:
        raise BadParameterError("status", f"status must be one of {', '.join(OPEN_PO_STATUSES)}")
    return (wanted,)


def _po_suppliers() -> list[Organization]:
    """Suppliers whose POs the caller may read, each with a vendor number in the ERP."""
    client = current_client()
    on_behalf_of = on_behalf_of_header()
    if on_behalf_of is not None or client.organization.kind != OrgKind.PARTNER:
        chosen = [resolve_supplier(ConnectionScope.PURCHASE_ORDERS, on_behalf_of)]
    else:
        chosen = suppliers_for(client.organization_id, ConnectionScope.PURCHASE_ORDERS)
    return [supplier for supplier in chosen if supplier.erp_vendor_number]
