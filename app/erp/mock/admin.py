"""The mock ERP's test controls (/admin): faults, reset, payments. Never subject to faults."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from app.erp.mock import render, services
from app.erp.mock.app import bearer_matches, db, error, state, unauthorized, unit_of_work
from app.erp.mock.faults import RefuseUnsupportedError
from app.erp.mock.schemas import AddReceipt, FaultsUpdate, MarkPaid

bp = Blueprint("mock_erp_admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin_key() -> Any:
    if not bearer_matches(current_app.config["MOCK_ERP_ADMIN_KEY"]):
        return unauthorized()
    return None


@bp.get("/faults")
def show_faults() -> Any:
    return state().faults.snapshot()


@bp.route("/faults", methods=["PUT", "POST"])
def set_faults() -> Any:
    change = FaultsUpdate.model_validate(request.get_json(force=True))
    try:
        return state().faults.update(change)
    except RefuseUnsupportedError as exc:
        return error(409, "REFUSE_UNSUPPORTED", str(exc))


@bp.delete("/faults")
def clear_faults() -> Any:
    state().faults.clear()
    return state().faults.snapshot()


@bp.post("/reset")
def reset() -> Any:
    """Back to the seed and no faults: each test suite starts from the same ERP."""
    state().faults.clear()
    with unit_of_work(db()) as session:
        services.recreate_database(session)
    return {"ok": True}


@bp.post("/purchase-orders/<number>/receipts")
def add_receipt(number: str) -> Any:
    req = AddReceipt.model_validate(request.get_json(force=True))
    with unit_of_work(db()) as session:
        return render.receipt(services.add_receipt(session, number, req)), 201


@bp.get("/vendors/<number>/changes")
def vendor_changes(number: str) -> Any:
    """The ERP's audit of a vendor's record: every remit-to change, account numbers masked."""
    return {"items": [render.vendor_change(c) for c in services.vendor_changes(db(), number)]}


@bp.post("/ap-invoices/<int:invoice_id>/pay")
def mark_paid(invoice_id: int) -> Any:
    req = MarkPaid.model_validate(request.get_json(force=True))
    with unit_of_work(db()) as session:
        return render.payment(services.mark_paid(session, invoice_id, req))
