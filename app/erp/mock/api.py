"""The mock ERP's integration API (/api): what the portal's ErpClient talks to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.erp.mock import models, render, seed, services
from app.erp.mock.app import bearer_matches, db, error, state, unauthorized, unit_of_work
from app.erp.mock.schemas import AcknowledgmentCreate, ApInvoiceCreate, VendorCreate, VendorUpdate

bp = Blueprint("mock_erp_api", __name__, url_prefix="/api")


@bp.before_request
def apply_faults_then_auth() -> Any:
    # Faults come first: an ERP that is down does not check credentials either.
    answer = state().faults.before_api_call()
    if answer is not None:
        response, status = error(answer.status, answer.code, answer.message)
        if answer.retry_after is not None:
            response.headers["Retry-After"] = str(answer.retry_after)
        return response, status
    if not bearer_matches(current_app.config["MOCK_ERP_API_KEY"]):
        return unauthorized()
    return None


def items(rows: list[dict[str, Any]]) -> Response:
    return jsonify({"items": rows, "count": len(rows)})


def body() -> Any:
    return request.get_json(force=True, silent=False)


@bp.get("/ping")
def ping() -> Any:
    return {"ok": True}


@bp.get("/vendors")
def list_vendors() -> Response:
    query = select(models.Vendor).order_by(models.Vendor.number)
    if tax_id := request.args.get("tax_id"):
        query = query.where(models.Vendor.tax_key == seed.tax_key(tax_id))
    return items([render.vendor(v) for v in db().scalars(query)])


@bp.get("/vendors/<number>")
def get_vendor(number: str) -> Any:
    return render.vendor(services.get_vendor(db(), number))


@bp.post("/vendors")
def create_vendor() -> Any:
    req = VendorCreate.model_validate(body())
    with unit_of_work(db()) as session:
        vendor, created = services.find_or_create_vendor(session, req)
        return render.vendor(vendor), 201 if created else 200


@bp.route("/vendors/<number>", methods=["PUT", "PATCH"])
def update_vendor(number: str) -> Any:
    """Change the vendor's remit-to (an approved bank change); an Idempotency-Key, if sent,
    makes a repeat answer the first result."""
    raw = body()
    req = VendorUpdate.model_validate(raw)

    def work(session: Session) -> services.Answer:
        return 200, render.vendor(services.update_vendor(session, number, req))

    with unit_of_work(db()) as session:
        services.get_vendor(session, number)  # 404 before any key is stored
        key = request.headers.get("Idempotency-Key")
        if not key:
            status, answer = work(session)
            return answer, status
        return _run_once(session, f"vendor:{number}", key, raw, work)


@bp.get("/events")
def list_events() -> Response:
    """What happened since the event id `after` (goods receipts), oldest first."""
    after = request.args.get("after", default=0, type=int)
    limit = min(request.args.get("limit", default=100, type=int), 500)
    return items([render.event(e) for e in services.list_events(db(), after, max(limit, 1))])


@bp.get("/facilities")
def list_facilities() -> Response:
    rows = db().scalars(select(models.Facility).order_by(models.Facility.code))
    return items([render.facility(f) for f in rows])


@bp.get("/cost-centres")
def list_cost_centres() -> Response:
    query = select(models.CostCentre).order_by(models.CostCentre.code)
    if facility := request.args.get("facility_code"):
        query = query.join(models.CostCentre.facility).where(models.Facility.code == facility)
    return items([render.cost_centre(c) for c in db().scalars(query)])


@bp.get("/items")
def list_items() -> Response:
    query = select(models.Item).order_by(models.Item.number)
    if category := request.args.get("category"):
        query = query.where(models.Item.category == category)
    return items([render.item(i) for i in db().scalars(query)])


@bp.get("/purchase-orders")
def list_purchase_orders() -> Response:
    pos = services.list_purchase_orders(
        db(), request.args.get("vendor_number"), request.args.get("status")
    )
    return items([render.purchase_order(po) for po in pos])


@bp.get("/purchase-orders/<number>")
def get_purchase_order(number: str) -> Any:
    return render.purchase_order(services.get_purchase_order(db(), number))


@bp.get("/purchase-orders/<number>/receipts")
def list_receipts(number: str) -> Response:
    po = services.get_purchase_order(db(), number)
    return items([render.receipt(r) for line in po.lines for r in line.receipts])


@bp.get("/purchase-orders/<number>/acknowledgments")
def list_acknowledgments(number: str) -> Response:
    po = services.get_purchase_order(db(), number)
    acks = db().scalars(
        select(models.Acknowledgment)
        .where(models.Acknowledgment.purchase_order_id == po.id)
        .order_by(models.Acknowledgment.id)
    )
    return items([render.acknowledgment(a) for a in acks])


@bp.post("/purchase-orders/<number>/acknowledgments")
def acknowledge_po(number: str) -> Any:
    raw = body()
    req = AcknowledgmentCreate.model_validate(raw)
    with unit_of_work(db()) as session:
        po = services.get_purchase_order(session, number)

        def work(session: Session) -> services.Answer:
            return 201, render.acknowledgment(services.acknowledge(session, po, req))

        key = request.headers.get("Idempotency-Key")
        if not key:  # optional here: acknowledgments are harmless to repeat
            status, answer = work(session)
            return answer, status
        return _run_once(session, f"ack:{number}", key, raw, work)


@bp.post("/ap-invoices")
def create_ap_invoice() -> Any:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return error(400, "IDEMPOTENCY_KEY_REQUIRED", "Send an Idempotency-Key header.")
    raw = body()
    req = ApInvoiceCreate.model_validate(raw)

    def work(session: Session) -> services.Answer:
        return services.render_invoice_created(services.create_ap_invoice(session, req))

    with unit_of_work(db()) as session:
        return _run_once(session, "ap-invoice", key, raw, work)


def _run_once(
    session: Session, scope: str, key: str, raw: Any, work: Callable[[Session], services.Answer]
) -> tuple[Response, int]:
    body_hash = services.request_hash(raw)
    status, answer, replayed = services.run_once(session, scope, key, body_hash, work)
    response = jsonify(answer)
    response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return response, status


@bp.get("/ap-invoices")
def list_ap_invoices() -> Response:
    invoices = services.list_ap_invoices(
        db(), request.args.get("vendor_number"), request.args.get("invoice_number")
    )
    return items([render.ap_invoice(i) for i in invoices])


@bp.get("/ap-invoices/<int:invoice_id>")
def get_ap_invoice(invoice_id: int) -> Any:
    return render.ap_invoice(services.get_ap_invoice(db(), invoice_id))


@bp.get("/ap-invoices/<int:invoice_id>/payment")
def get_payment(invoice_id: int) -> Any:
    return render.payment(services.get_ap_invoice(db(), invoice_id))
