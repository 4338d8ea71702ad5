"""Finance lookup of any purchase order with its lines and goods receipts (3-way data)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from app.accounts.access import require_role
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.orgs.roles import Role

bp = Blueprint("finance", __name__, url_prefix="/finance")
STAFF = (Role.FINANCE_CLERK, Role.FINANCE_MANAGER, Role.PROCUREMENT_ADMIN)


@bp.get("/purchase-orders")
@require_role(*STAFF)
def purchase_orders():
    number = request.args.get("number", "").strip()
    vendor = request.args.get("vendor", "").strip()
    context: dict[str, Any] = {
        "number": number,
        "vendor": vendor,
        "order": None,
        "receipts": [],
        "orders": [],
        "error": None,
    }
    erp = get_erp()
    try:
        if number:
            context["order"] = erp.get_purchase_order(number)
            context["receipts"] = erp.list_receipts(number)
        else:
            context["orders"] = erp.list_purchase_orders(vendor_number=vendor or None)[:100]
    except ErpNotFound:
        context["error"] = f"The ERP has no purchase order {number}."
    except ErpError as exc:
        context["error"] = f"The ERP did not answer ({exc}). Try again in a minute."
        return render_template("finance/purchase_orders.html", **context), 503
    return render_template("finance/purchase_orders.html", **context)
