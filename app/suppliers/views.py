"""Supplier pages: the organization's purchase orders from the ERP, and its team."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from app.accounts.access import require_role
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.erp.interface import PoStatus
from app.orgs.roles import Role

bp = Blueprint("suppliers", __name__)
PO_STATUSES = tuple(PoStatus)


def _vendor_number() -> str:
    """The caller's ERP vendor number; a supplier not yet synced to the ERP has no POs."""
    org = current_user.organization
    if org is None or not org.erp_vendor_number:
        abort(404, "Your organization is not linked to an ERP vendor yet.")
    return org.erp_vendor_number


@bp.get("/purchase-orders")
@require_role(Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN)
def purchase_orders():
    org = current_user.organization
    if org is not None and not org.erp_vendor_number:
        # Not a missing page: the supplier is not in the ERP yet. Say what to do instead.
        return render_template(
            "suppliers/not_linked.html",
            org=org,
            is_admin=current_user.has_role(Role.SUPPLIER_ADMIN),
        )
    requested = request.args.get("status", "")
    status = requested if requested in PO_STATUSES else None
    try:
        orders = get_erp().list_purchase_orders(vendor_number=_vendor_number(), status=status)
    except ErpError:
        return render_template(
            "suppliers/purchase_orders.html",
            orders=[],
            statuses=PO_STATUSES,
            status=status,
            erp_down=True,
        ), 503
    return render_template(
        "suppliers/purchase_orders.html",
        orders=orders,
        statuses=PO_STATUSES,
        status=status,
        erp_down=False,
    )


@bp.get("/purchase-orders/<po_number>")
@require_role(Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN)
def purchase_order(po_number: str):
    erp = get_erp()
    try:
        order = erp.get_purchase_order(po_number)
    except ErpNotFound:
        abort(404, "No such purchase order.")
    # Another supplier's PO is answered exactly like a missing one.
    if order.vendor_number != _vendor_number():
        abort(404, "No such purchase order.")
    receipts = erp.list_receipts(po_number)
    return render_template("suppliers/purchase_order.html", order=order, receipts=receipts)


@bp.get("/team")
@require_role(Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)
def team():
    org = current_user.organization
    members = sorted(org.memberships, key=lambda m: m.user.email)
    return render_template("suppliers/team.html", org=org, members=members)
