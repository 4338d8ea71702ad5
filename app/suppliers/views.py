"""Supplier pages: the organization's purchase orders from the ERP (with the invoices sent
against each and what is left to invoice; accepting, changing or rejecting its lines), and its
team."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, g, render_template, request
from flask_login import current_user

from app.accounts.access import require_role
from app.documents.models import DocumentKind
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.erp.interface import OPEN_PO_STATUSES, PoStatus, PurchaseOrder
from app.intake import acknowledge, flip
from app.intake.forms import AckForm
from app.intake.portal import form_submission, receive_own, sent
from app.matching.left import left_to_invoice
from app.orgs.roles import Role
from app.suppliers import queries

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


def _own_order(po_number: str) -> PurchaseOrder:
    try:
        order = get_erp().get_purchase_order(po_number, correlation_id=g.correlation_id)
    except ErpNotFound:
        abort(404, "No such purchase order.")
    except ErpError:
        abort(503, "The hospital's ERP is not answering right now. Try again in a few minutes.")
    # Another supplier's PO is answered exactly like a missing one.
    if order.vendor_number != _vendor_number():
        abort(404, "No such purchase order.")
    return order


@bp.get("/purchase-orders/<po_number>")
@require_role(Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN)
def purchase_order(po_number: str):
    order = _own_order(po_number)
    form = AckForm()
    _prefill_ack(form, order)
    return _po_page(order, form)


def _po_page(order: PurchaseOrder, form: AckForm, status: int = 200):
    org = current_user.organization
    try:
        receipts = get_erp().list_receipts(order.number, correlation_id=g.correlation_id)
    except ErpError:
        abort(503, "The hospital's ERP is not answering right now. Try again in a few minutes.")
    return render_template(
        "suppliers/purchase_order.html",
        order=order,
        receipts=receipts,
        invoices=queries.invoices_on_po(org.id, order.number),
        left=left_to_invoice(org.id, order),
        form=form,
        can_answer=order.status in OPEN_PO_STATUSES and org.is_active,
        ack_lines=_ack_lines(form, order),
    ), status


def _prefill_ack(form: AckForm, order: PurchaseOrder) -> None:
    form.ack_number.data = f"ACK-{order.number}"
    for line in order.lines:
        form.lines.append_entry(
            {
                "po_line": line.line_number,
                "answer": acknowledge.ACCEPT,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "delivery_date": line.need_by_date,
            }
        )


def _ack_lines(form: AckForm, order: PurchaseOrder) -> list[tuple]:
    by_number = {line.line_number: line for line in order.lines}
    return [(by_number.get(entry.po_line.data), entry) for entry in form.lines]


@bp.post("/purchase-orders/<po_number>/acknowledgment")
@require_role(Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN)
def acknowledge_po(po_number: str):
    """Accept, change or reject the PO's lines: an acknowledgment without writing a file, sent
    through intake like an uploaded one."""
    org = current_user.organization
    if not org.is_active:
        abort(403, "Only an active supplier can send documents.")
    order = _own_order(po_number)
    if order.status not in OPEN_PO_STATUSES:
        abort(409, f"Purchase order {po_number} is closed; it cannot be acknowledged.")
    form = AckForm()
    if form.validate_on_submit():
        try:
            ack = _acknowledgment(form, order, org)
        except acknowledge.AcknowledgeError as error:
            flash(str(error).capitalize() + ".", "error")
        else:
            submission = form_submission(ack, org, order.number, kind=DocumentKind.ACKNOWLEDGMENT)
            return sent(receive_own(submission, org))
    return _po_page(order, form, 400)


def _acknowledgment(form: AckForm, order: PurchaseOrder, org) -> dict:
    answers = [
        acknowledge.LineAnswer(
            po_line=entry.po_line.data,
            answer=entry.answer.data,
            quantity=entry.quantity.data,
            unit_price=entry.unit_price.data,
            delivery_date=entry.delivery_date.data,
            reason=(entry.reason.data or "").strip() or None,
        )
        for entry in form.lines
    ]
    return acknowledge.acknowledgment_from_po(
        order,
        answers,
        supplier=flip.FlipSupplier(org.id, org.name, org.erp_vendor_number),
        ack_number=form.ack_number.data,
        issue_date=dt.datetime.now(dt.UTC).date(),
        note=form.note.data or None,
    )


@bp.get("/team")
@require_role(Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)
def team():
    org = current_user.organization
    members = sorted(org.memberships, key=lambda m: m.user.email)
    return render_template("suppliers/team.html", org=org, members=members)
