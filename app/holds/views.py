"""The finance queue pages: every invoice (held ones by default) with filters, sorts, counts
per hold code, SLA, assignment and bulk actions; one invoice with its PO, receipts, holds,
original document, timeline and comments, and the actions finance takes on it."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from app.accounts.access import require_role
from app.accounts.models import User
from app.db import db, refusable, utcnow
from app.documents.models import Document
from app.documents.queries import locked_document
from app.erp import get_erp
from app.erp.errors import ErpError
from app.erp.interface import PurchaseOrder, Receipt
from app.holds import forms, queries, services
from app.holds.lines import side_by_side
from app.holds.models import Comment, Question, Review
from app.holds.original import Readable, readable
from app.holds.timeline import whole_timeline
from app.matching.facts import History
from app.matching.findings import HoldCode
from app.matching.models import Correction, Hold
from app.matching.queries import holds_of
from app.matching.services import billed, purchase_order, revalidate
from app.matching.tolerance_templates import template_for
from app.orgs.models import Membership, Organization, OrgKind
from app.orgs.roles import FINANCE_ROLES, Role

bp = Blueprint("holds", __name__, url_prefix="/finance")
FINANCE = (Role.FINANCE_CLERK, Role.FINANCE_MANAGER)
CODES = {code.value: code for code in HoldCode}
KPI_WINDOW = dt.timedelta(days=30)
READABLE_LIMIT = 200_000  # bytes of an original shown on the page; larger ones are downloads
QUEUE_SHORTCUTS = (
    ("j", "next row"),
    ("k", "previous row"),
    ("Enter", "open the invoice"),
    ("x", "tick or untick the row"),
    ("r", "release: the ticked invoices, or else the focused one (then write why)"),
    ("a", "assign to me: the ticked invoices, or else the focused one"),
    ("?", "show or hide this help"),
)
INVOICE_SHORTCUTS = (
    ("j", "next invoice in the queue (same filters and order)"),
    ("k", "previous invoice in the queue"),
    ("u", "back to the queue"),
    ("r", "release: go to the next open hold's reason"),
    ("Enter", "in a release reason: release the hold (Shift+Enter for a new line)"),
    ("a", "assign to me"),
    ("?", "show or hide this help"),
)
# Why a hold of a code no person may release (services.MANUAL_RELEASE) is not offered.
NO_MANUAL_RELEASE = {
    HoldCode.SUPPLIER_INACTIVE: "It releases itself once procurement reactivates the supplier "
    "and the invoice is checked again; send it back to the supplier if it should not wait.",
}
NO_MANUAL_RELEASE_DEFAULT = "It releases itself when a new check of the invoice passes."


# -- the queue -------------------------------------------------------------------------------


def _enum(kind: Any, name: str) -> Any:
    try:
        return kind(request.args.get(name, ""))
    except ValueError:
        return None


def _decimal(name: str) -> Decimal | None:
    try:
        return Decimal(request.args[name]) if request.args.get(name) else None
    except InvalidOperation:
        return None


def _assignee_arg() -> int | None:
    value = request.args.get("assignee", "")
    if value == "me":
        return current_user.id
    return int(value) if value.isdigit() else None


def _filters() -> queries.QueueFilters:
    return queries.QueueFilters(
        view=_enum(queries.View, "view") or queries.View.HELD,
        code=CODES.get(request.args.get("code", "")),
        supplier_id=request.args.get("supplier", type=int),
        facility=request.args.get("facility") or None,
        min_amount=_decimal("min_amount"),
        max_amount=_decimal("max_amount"),
        min_age_days=request.args.get("age", type=int),
        assignee_id=_assignee_arg(),
        sla=_enum(queries.Sla, "sla"),
        sort=_enum(queries.Sort, "sort") or queries.Sort.NEWEST,
        after=request.args.get("after") or None,
    )


@bp.get("/holds")
@require_role(*FINANCE)
def queue() -> str:
    filters = _filters()
    rows = queries.queue(filters, queries.PAGE_SIZE + 1)
    page = rows[: queries.PAGE_SIZE]
    more = len(rows) > queries.PAGE_SIZE
    clerks = _clerks()
    return render_template(
        "holds/queue.html",
        rows=page,
        next_cursor=queries.cursor_of(page[-1].document, filters.sort) if more else None,
        filters=filters,
        counts=queries.counts_by_code(),
        kpi_days=KPI_WINDOW.days,
        suppliers=_suppliers(),
        facilities=queries.facilities(),
        clerks=clerks,
        bulk_form=_bulk_form(clerks),
        shortcuts=QUEUE_SHORTCUTS,
    )


@bp.get("/holds/kpis")
@require_role(*FINANCE)
def kpis() -> str:
    """The matching figures of the last KPI_WINDOW (of one supplier, if given): a page of their
    own, or the block the queue page loads after its rows (`fragment=1`), so the list of
    invoices never waits for a read over a month of timelines."""
    supplier_id = request.args.get("supplier", type=int)
    now, report = _kpi_report(supplier_id)
    supplier = db.session.get(Organization, supplier_id) if supplier_id else None
    fragment = request.args.get("fragment") == "1"
    return render_template(
        "holds/_kpis.html" if fragment else "holds/kpis.html",
        kpis=report.overall,
        kpis_by_day=report.by_day[:14],
        kpis_by_supplier=_named(report.by_supplier[:10]),
        kpi_days=KPI_WINDOW.days,
        supplier_id=supplier_id,
        supplier_name=supplier.name if supplier else None,
        as_of=now,
    )


# The figures read over a month of timelines (seconds at a million invoices), kept a short
# while in each process so clerks opening the queue together cost one read, not one each.
_kpi_cache: dict[int | None, tuple[dt.datetime, queries.KpiReport]] = {}
_kpi_lock = threading.Lock()


def _kpi_report(supplier_id: int | None) -> tuple[dt.datetime, queries.KpiReport]:
    """(as of, the report): computed now, or kept from up to HOLDS_KPI_CACHE_SECONDS ago."""
    keep = dt.timedelta(seconds=int(current_app.config["HOLDS_KPI_CACHE_SECONDS"]))
    now = utcnow()
    with _kpi_lock:
        kept = _kpi_cache.get(supplier_id)
    if kept is not None and now - kept[0] < keep:
        return kept
    fresh = (now, queries.kpi_report(now - KPI_WINDOW, supplier_id))
    with _kpi_lock:
        _kpi_cache[supplier_id] = fresh
    return fresh


def _named(rows: list[tuple[int | None, queries.Kpis]]) -> list[tuple[str, queries.Kpis]]:
    ids = [key for key, _ in rows if key]
    query = select(Organization.id, Organization.name).where(Organization.id.in_(ids))
    names = {row.id: row.name for row in db.session.execute(query)}
    return [(names.get(key, "—") if key else "—", kpis) for key, kpis in rows]


def _suppliers() -> list[tuple[int, str]]:
    query = (
        select(Organization.id, Organization.name)
        .where(Organization.kind == OrgKind.SUPPLIER)
        .order_by(Organization.name)
    )
    return [(row.id, row.name) for row in db.session.execute(query)]


def _clerks() -> list[User]:
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_(FINANCE_ROLES))
        .distinct()
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def _assignee_choices(clerks: list[User] | None = None) -> list[SelectChoice]:
    people = [SelectChoice(str(u.id), u.email) for u in (_clerks() if clerks is None else clerks)]
    return [SelectChoice("me", "Me"), SelectChoice("", "Nobody"), *people]


def _bulk_form(clerks: list[User] | None = None) -> forms.BulkForm:
    form = forms.BulkForm()
    form.assignee.choices = _assignee_choices(clerks)
    return form


@bp.post("/holds/bulk")
@require_role(*FINANCE)
def bulk() -> WerkzeugResponse:
    form = _bulk_form()
    if not form.validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    if not ids:
        flash("Select at least one invoice.", "error")
        return redirect(request.referrer or url_for(".queue"))
    try:
        if form.action.data == "release":
            outcomes = services.bulk_release(ids, current_user, form.reason.data or "")
        elif form.action.data == "assign":
            outcomes = services.bulk_assign(ids, current_user, _assignee(form.assignee.data))
        else:
            abort(400, "Choose release or assign.")
    except services.HoldActionError as error:
        flash(str(error), "error")
        return redirect(request.referrer or url_for(".queue"))
    _report(outcomes)
    return redirect(request.referrer or url_for(".queue"))


def _report(outcomes: list[services.Outcome]) -> None:
    done = [o for o in outcomes if o.done]
    flash(f"{len(done)} of {len(outcomes)} invoices done.", "success" if done else "info")
    for outcome in outcomes:
        if not outcome.done:
            flash(f"Invoice {outcome.document_id}: {outcome.message}", "error")


def _assignee(value: str | None) -> User | None:
    if value == "me":
        return current_user._get_current_object()  # type: ignore[attr-defined]
    if value and value.isdigit():
        return db.session.get(User, int(value)) or abort(400, "No such user.")
    return None


# -- one invoice -----------------------------------------------------------------------------


def _invoice(document_id: int) -> Document:
    document = queries.held_invoice(document_id)
    if document is None:
        abort(404, "No such invoice.")
    return document


@bp.get("/invoices/<int:document_id>")
@require_role(*FINANCE)
def invoice(document_id: int) -> tuple[str, int]:
    return _invoice_page(document_id)


def _invoice_page(
    document_id: int, status: int = 200, error: str | None = None, **bound: Any
) -> tuple[str, int]:
    document = _invoice(document_id)
    filters = _filters()
    previous_id, next_id = queries.neighbours(filters, document)
    order, erp_down = _purchase_order(document.po_number)
    receipts = _receipts(order) if order and not erp_down else []
    review = db.session.get(Review, document.id)
    holds = holds_of(document.id)
    supplier = document.supplier_org_id or document.sender_org_id
    assign_form = bound.get("assign_form") or forms.AssignForm()
    assign_form.assignee.choices = _assignee_choices()
    return render_template(
        "holds/invoice.html",
        document=document,
        holds=holds,
        lines=side_by_side(
            document.canonical, order, _billed_before(document), template_for(supplier), holds
        ),
        order=order,
        receipts=receipts,
        erp_down=erp_down,
        review=review,
        version=review.version if review else None,
        sla=queries.sla_state(review.due_at, utcnow())
        if review and document.state.value == "ON_HOLD"
        else None,
        original=_readable(document),
        comments=_of(Comment, document.id, Comment.created_at),
        corrections=_of(Correction, document.id, Correction.created_at),
        questions=_of(Question, document.id, Question.asked_at),
        timeline=whole_timeline(document),
        error=error,
        release_form=bound.get("release_form") or forms.ReleaseForm(),
        reject_form=bound.get("reject_form") or forms.RejectForm(),
        assign_form=assign_form,
        correct_form=bound.get("correct_form") or forms.CorrectForm(),
        dispute_form=bound.get("dispute_form") or forms.DisputeForm(),
        ask_form=bound.get("ask_form") or forms.AskForm(),
        comment_form=bound.get("comment_form") or forms.CommentForm(),
        shortcuts=INVOICE_SHORTCUTS,
        nav=filters.args(),
        previous_id=previous_id,
        next_id=next_id,
        not_releasable={
            code: NO_MANUAL_RELEASE.get(code, NO_MANUAL_RELEASE_DEFAULT)
            for code in services.NOT_RELEASABLE
        },
    ), status


def _billed_before(document: Document) -> History:
    """What the supplier's other documents billed on the invoice's PO, as validation counts it."""
    supplier = document.supplier_org_id or document.sender_org_id
    if not document.po_number:
        return History()
    return billed(supplier, document.po_number, excluding=document.id)


def _of(model: Any, document_id: int, order: Any) -> list[Any]:
    query = select(model).where(model.document_id == document_id).order_by(order)
    return list(db.session.scalars(query))


def _purchase_order(number: str | None) -> tuple[PurchaseOrder | None, bool]:
    """The invoice's PO from the ERP, and whether the ERP failed to answer."""
    try:
        return purchase_order(number), False
    except ErpError:
        return None, True


def _receipts(order: PurchaseOrder) -> list[Receipt]:
    try:
        return get_erp().list_receipts(order.number)
    except ErpError:
        return []


def _readable(document: Document) -> Readable | None:
    """The original laid out for reading (JSON and XML indented, X12 a segment a line, CSV a
    table), or None for bytes that are not text or too long to show (they stay a download)."""
    raw = document.payload
    if raw.size > READABLE_LIMIT:
        return None
    return readable(raw.body, raw.content_type)


@bp.get("/invoices/<int:document_id>/original")
@require_role(*FINANCE)
def original(document_id: int) -> Response:
    raw = _invoice(document_id).payload
    name = PurePath(raw.filename or f"invoice-{document_id}").name
    # Always a download, never rendered: the bytes are whatever the sender sent.
    return Response(
        raw.body,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _act(
    document_id: int, action: Any, done: str, **bound: Any
) -> WerkzeugResponse | tuple[str, int]:
    """Run an action in a savepoint: done → back to the page with `done`; refused → the page
    with why (409 with the invoice as it is now when someone else changed it first)."""
    try:
        with refusable():
            action()
    except services.HoldChangedError as error:
        db.session.expire_all()
        return _invoice_page(document_id, 409, str(error))
    except services.HoldActionError as error:
        return _invoice_page(document_id, 400, str(error), **bound)
    flash(done, "success")
    return redirect(url_for(".invoice", document_id=document_id, **_filters().args()))


@bp.post("/holds/<int:hold_id>/release")
@require_role(*FINANCE)
def release(hold_id: int) -> WerkzeugResponse | tuple[str, int]:
    hold = db.session.get(Hold, hold_id) or abort(404, "No such hold.")
    form = forms.ReleaseForm()
    if not form.validate_on_submit():
        return _invoice_page(hold.document_id, 400, None, release_form=form)
    return _act(
        hold.document_id,
        lambda: services.release(hold, current_user, form.reason.data, form.version.data),
        f"{hold.code.value} released.",
    )


@bp.post("/invoices/<int:document_id>/assign")
@require_role(*FINANCE)
def assign(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.AssignForm()
    form.assignee.choices = _assignee_choices()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, assign_form=form)
    assignee = _assignee(form.assignee.data)
    return _act(
        document_id,
        lambda: services.assign(document, current_user, assignee, form.version.data),
        f"Assigned to {assignee.email if assignee else 'nobody'}.",
    )


@bp.post("/invoices/<int:document_id>/correct")
@require_role(*FINANCE)
def correct(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.CorrectForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, correct_form=form)
    return _act(
        document_id,
        lambda: services.correct(
            document,
            current_user,
            services.Change(form.field.data, form.line.data or None, form.value.data),
            form.reason.data,
            form.version.data,
        ),
        "Corrected and checked again.",
        correct_form=form,
    )


@bp.post("/invoices/<int:document_id>/dispute")
@require_role(*FINANCE)
def dispute(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.DisputeForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, dispute_form=form)
    return _act(
        document_id,
        lambda: services.dispute_line(
            document, current_user, form.line.data, form.reason.data, form.version.data
        ),
        "The line is disputed; the supplier is told which and why.",
        dispute_form=form,
    )


@bp.post("/invoices/<int:document_id>/ask")
@require_role(*FINANCE)
def ask(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.AskForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, ask_form=form)
    return _act(
        document_id,
        lambda: services.ask(document, current_user, form.question.data, form.version.data),
        "The supplier is asked; the invoice comes back here when they answer.",
        ask_form=form,
    )


@bp.post("/invoices/<int:document_id>/comments")
@require_role(*FINANCE)
def comment(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.CommentForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, comment_form=form)
    return _act(
        document_id,
        lambda: services.comment(document, current_user, form.body.data),
        "Comment added.",
        comment_form=form,
    )


@bp.post("/invoices/<int:document_id>/recheck")
@require_role(*FINANCE)
def recheck(document_id: int) -> WerkzeugResponse:
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
    return redirect(url_for(".invoice", document_id=document_id, **_filters().args()))


@bp.post("/invoices/<int:document_id>/reject")
@require_role(*FINANCE)
def reject(document_id: int) -> WerkzeugResponse | tuple[str, int]:
    document = _invoice(document_id)
    form = forms.RejectForm()
    if not form.validate_on_submit():
        return _invoice_page(document_id, 400, None, reject_form=form)
    return _act(
        document_id,
        lambda: services.reject(
            document, current_user, form.code.data, form.note.data, form.version.data
        ),
        "The invoice was sent back to the supplier with your note.",
        reject_form=form,
    )
