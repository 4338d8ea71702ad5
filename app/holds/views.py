"""The finance queue pages: held invoices with the counts per hold code, one invoice with its
holds explained, and the release and reject actions."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.accounts.access import require_role
from app.db import db, refusable, utcnow
from app.documents.queries import locked_document
from app.erp.errors import ErpError
from app.erp.interface import PurchaseOrder
from app.holds import queries, services
from app.holds.forms import RejectForm, ReleaseForm
from app.holds.lines import side_by_side
from app.matching.findings import HoldCode
from app.matching.models import Hold
from app.matching.queries import holds_of
from app.matching.services import purchase_order, revalidate
from app.orgs.roles import Role

bp = Blueprint("holds", __name__, url_prefix="/finance")
FINANCE = (Role.FINANCE_CLERK, Role.FINANCE_MANAGER)
CODES = {code.value: code for code in HoldCode}
KPI_WINDOW = dt.timedelta(days=30)


@bp.get("/holds")
@require_role(*FINANCE)
def queue() -> str:
    code = CODES.get(request.args.get("code", ""))
    supplier = request.args.get("supplier", type=int)
    before = request.args.get("before", type=int)
    filters = queries.QueueFilters(code=code, supplier_id=supplier, before_id=before)
    rows = queries.queue(filters, queries.PAGE_SIZE + 1)
    return render_template(
        "holds/queue.html",
        rows=rows[: queries.PAGE_SIZE],
        more=len(rows) > queries.PAGE_SIZE,
        counts=queries.counts_by_code(),
        kpis=queries.kpis(utcnow() - KPI_WINDOW, supplier),
        kpi_days=KPI_WINDOW.days,
        code=code,
        supplier=supplier,
    )


def _invoice(document_id: int):
    document = queries.held_invoice(document_id)
    if document is None:
        abort(404, "No such invoice.")
    return document


@bp.get("/invoices/<int:document_id>")
@require_role(*FINANCE)
def invoice(document_id: int) -> str:
    return _invoice_page(document_id, ReleaseForm(), RejectForm())


def _invoice_page(document_id: int, release_form, reject_form, status: int = 200):
    document = _invoice(document_id)
    order, erp_down = _purchase_order(document.po_number)
    return render_template(
        "holds/invoice.html",
        document=document,
        holds=holds_of(document.id),
        lines=side_by_side(document.canonical, order),
        erp_down=erp_down,
        release_form=release_form,
        reject_form=reject_form,
    ), status


def _purchase_order(number: str | None) -> tuple[PurchaseOrder | None, bool]:
    """The invoice's PO from the ERP, and whether the ERP failed to answer."""
    try:
        return purchase_order(number), False
    except ErpError:
        return None, True


@bp.post("/holds/<int:hold_id>/release")
@require_role(*FINANCE)
def release(hold_id: int) -> Response | tuple[str, int]:
    hold = db.session.get(Hold, hold_id) or abort(404, "No such hold.")
    form = ReleaseForm()
    if not form.validate_on_submit():
        return _invoice_page(hold.document_id, form, RejectForm(), 400)
    try:
        with refusable():
            document = services.release(hold, current_user, form.reason.data)
    except services.HoldActionError as error:
        flash(str(error), "error")
        return redirect(url_for(".invoice", document_id=hold.document_id))
    flash(f"{hold.code.value} released; the invoice is {document.state.value.lower()}.", "success")
    return redirect(url_for(".invoice", document_id=hold.document_id))


@bp.post("/invoices/<int:document_id>/recheck")
@require_role(*FINANCE)
def recheck(document_id: int) -> Response:
    """Check the invoice again now (after a goods receipt, say) instead of at the next sweep."""
    document = _invoice(document_id)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    try:
        state = revalidate(locked_document(document.id) or document, current_user)
    except ErpError:
        flash("The ERP is not answering; the invoice will be checked again later.", "error")
    else:
        flash(f"Checked again: the invoice is {state.value.lower().replace('_', ' ')}.", "info")
    return redirect(url_for(".invoice", document_id=document_id))


@bp.post("/invoices/<int:document_id>/reject")
@require_role(*FINANCE)
def reject(document_id: int) -> Response | tuple[str, int]:
    document = _invoice(document_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, ReleaseForm(), form, 400)
    try:
        with refusable():
            services.reject(document, current_user, form.code.data, form.note.data)
    except services.HoldActionError as error:
        flash(str(error), "error")
    else:
        flash("The invoice was sent back to the supplier with your note.", "success")
    return redirect(url_for(".invoice", document_id=document_id))
