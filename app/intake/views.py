"""Supplier pages for documents: the organization's documents with their states, errors and
timelines; sending a file; and invoicing an open purchase order ("PO flip")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import PurePath

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from app.accounts.access import require_role
from app.documents import queries
from app.documents.models import Channel, Document, DocumentKind, DocumentState
from app.documents.transitions import Received
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder
from app.formats import EnvelopeError
from app.intake import examples, flip, services
from app.intake.forms import FlipForm, UploadForm
from app.matching.queries import holds_of
from app.matching.services import billed
from app.orgs.models import Organization, OrgKind
from app.orgs.roles import Role

bp = Blueprint("intake", __name__)

READERS = (Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)
SENDERS = (Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN)
PAGE_SIZE = 50
KIND_VALUES = frozenset(kind.value for kind in DocumentKind)
STATE_VALUES = frozenset(state.value for state in DocumentState)
# The file name says more about the format than browsers' guesses (a .csv is often sent as
# application/vnd.ms-excel); anything else is left for the parsers to recognise.
TYPES_BY_SUFFIX = {".xml": "application/xml", ".json": "application/json", ".csv": "text/csv"}
GENERIC_TYPE = "application/octet-stream"


def _org() -> Organization:
    org = current_user.organization
    if org is None:
        abort(403, "Your account belongs to no organization.")
    return org


def _active_supplier() -> Organization:
    org = _org()
    if org.kind != OrgKind.SUPPLIER or not org.is_active:
        abort(403, "Only an active supplier can send documents.")
    return org


# -- reading ---------------------------------------------------------------------------------


@bp.get("/documents")
@require_role(*READERS)
def documents() -> str:
    state = request.args.get("state", "")
    kind = request.args.get("kind", "")
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    filters = queries.Filters(
        kind=DocumentKind(kind) if kind in KIND_VALUES else None,
        states=[DocumentState(state)] if state in STATE_VALUES else [],
    )
    rows = queries.newest_first(_org().id, filters, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    return render_template(
        "intake/documents.html",
        documents=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        state=state,
        kind=kind,
        states=list(DocumentState),
        can_send=current_user.has_role(*SENDERS),
    )


def _visible(document_id: int) -> Document:
    document = queries.visible_document(document_id, _org().id)
    if document is None:
        abort(404, "No such document.")
    return document


# What each state means to the people who sent the document, in their words.
STATE_WORDS = {
    DocumentState.RECEIVED: "Received: we are reading it.",
    DocumentState.NORMALIZED: "Read: it is being checked against the purchase order.",
    DocumentState.VALIDATED: "Approved: it matches the purchase order and goes on to payment.",
    DocumentState.ON_HOLD: "In review: the hospital's accounts payable team is looking at it "
    "(why is listed below). You need not do anything unless they ask.",
    DocumentState.REJECTED: "Rejected: see why below, then send a corrected document.",
    DocumentState.POSTING: "Approved: being entered in the hospital's accounts.",
    DocumentState.POSTED: "Entered in the hospital's accounts: waiting for the payment run.",
    DocumentState.PAID: "Paid.",
    DocumentState.APPLIED: "Applied to the purchase order.",
    DocumentState.DEAD: "Delayed on our side: the hospital's team is on it.",
}


@bp.get("/documents/<int:document_id>")
@require_role(*READERS)
def document(document_id: int) -> str:
    found = _visible(document_id)
    return render_template(
        "intake/document.html",
        document=found,
        payload=found.payload,
        state_words=STATE_WORDS[found.state],
        holds=holds_of(found.id),
    )


@bp.get("/documents/<int:document_id>/payload")
@require_role(*READERS)
def payload(document_id: int) -> Response:
    raw = _visible(document_id).payload
    name = PurePath(raw.filename or f"payload-{raw.id}").name
    # Always a download, never rendered: the bytes are whatever the sender sent.
    return Response(
        raw.body,
        mimetype=GENERIC_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- sending a file --------------------------------------------------------------------------


@bp.route("/documents/upload", methods=["GET", "POST"])
@require_role(*SENDERS)
def upload() -> str | WerkzeugResponse | tuple[str, int]:
    org = _active_supplier()
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template(
            "intake/upload.html", form=form, examples=examples.FORMATS
        ), 400 if form.errors else 200
    file = form.file.data
    submission = services.Submission(
        kind=DocumentKind(form.kind.data),
        body=file.read(),
        content_type=TYPES_BY_SUFFIX.get(
            PurePath(file.filename or "").suffix.lower(), GENERIC_TYPE
        ),
        sender=org,
        channel=Channel.UPLOAD,
        user=current_user,
        filename=file.filename,
        correlation_id=g.correlation_id,
    )
    try:
        documents = _receive(submission, org)
    except EnvelopeError as error:
        form.file.errors = [str(error)]
        return render_template("intake/upload.html", form=form, examples=examples.FORMATS), 400
    return _sent(documents)


@bp.get("/documents/upload/examples/<fmt>")
@require_role(*SENDERS)
def upload_example(fmt: str) -> Response:
    """An example file for one of the supplier's own open POs, ready to send back."""
    org = _active_supplier()
    if fmt not in examples.FORMATS_BY_KEY:
        abort(404, "There is no example in that format.")
    try:
        example = examples.for_supplier(fmt, org, g.correlation_id)
    except examples.NoOpenOrderError:
        abort(404, "You have no open purchase order yet; an example needs one to bill.")
    except ErpError:
        abort(503, "The hospital's ERP is not answering right now. Try again in a few minutes.")
    return examples.download(example)


def _receive(submission: services.Submission, supplier: Organization) -> list[Received]:
    """A supplier sends for itself: every document in the payload is its own."""
    return services.submit(submission, lambda _: supplier, actor=current_user).documents


def _sent(documents: list[Received]) -> WerkzeugResponse:
    count = len(documents)
    flash(
        f"Received {count} document{'s' if count != 1 else ''}; "
        "they are being checked now and their state updates on this page.",
        "success",
    )
    if count == 1:
        return redirect(url_for("intake.document", document_id=documents[0].id))
    return redirect(url_for("intake.documents"))


# -- invoicing a purchase order --------------------------------------------------------------


@bp.get("/documents/from-po")
@require_role(*SENDERS)
def choose_po() -> str | tuple[str, int]:
    org = _active_supplier()
    try:
        orders = _open_orders(org)
    except ErpError:
        return render_template("intake/choose_po.html", orders=[], erp_down=True), 503
    return render_template("intake/choose_po.html", orders=orders, erp_down=False)


def _open_orders(org: Organization) -> list[PurchaseOrder]:
    if not org.erp_vendor_number:
        return []
    orders = get_erp().list_purchase_orders(
        vendor_number=org.erp_vendor_number, correlation_id=g.correlation_id
    )
    return [order for order in orders if order.status in OPEN_PO_STATUSES]


def _own_open_order(org: Organization, po_number: str) -> PurchaseOrder:
    try:
        order = get_erp().get_purchase_order(po_number, correlation_id=g.correlation_id)
    except ErpNotFound:
        abort(404, "No such purchase order.")
    except ErpError:
        abort(503, "The hospital's ERP is not answering right now. Try again in a few minutes.")
    # Another supplier's PO is answered exactly like a missing one.
    if not org.erp_vendor_number or order.vendor_number != org.erp_vendor_number:
        abort(404, "No such purchase order.")
    if order.status not in OPEN_PO_STATUSES:
        abort(409, f"Purchase order {po_number} is closed; it cannot be invoiced.")
    return order


@bp.route("/documents/from-po/<po_number>", methods=["GET", "POST"])
@require_role(*SENDERS)
def flip_po(po_number: str) -> str | WerkzeugResponse | tuple[str, int]:
    org = _active_supplier()
    order = _own_open_order(org, po_number)
    form = FlipForm()
    if request.method == "GET":
        _prefill(form, order, org)
    elif form.validate_on_submit():
        try:
            invoice = _flipped_invoice(form, order, org)
        except flip.FlipError as error:
            flash(str(error).capitalize() + ".", "error")
        else:
            return _sent(_receive(_flip_submission(invoice, org), org))
    return render_template(
        "intake/flip.html", form=form, order=order, lines=_form_lines(form, order)
    ), (400 if request.method == "POST" else 200)


def _prefill(form: FlipForm, order: PurchaseOrder, org: Organization) -> None:
    """Each line's quantity received and not yet invoiced, at the PO price: what the hospital
    will match the invoice against. Lines with nothing left to invoice start unticked."""
    already = billed(org.id, order.number)
    for line in order.lines:
        left = max(line.quantity_received - already.quantity(line.line_number), Decimal(0))
        form.lines.append_entry(
            {
                "po_line": line.line_number,
                "include": left > 0,
                "quantity": left,
                "unit_price": line.unit_price,
            }
        )


def _form_lines(form: FlipForm, order: PurchaseOrder) -> list[tuple]:
    """(PO line, its form row) pairs for the template, in PO order."""
    by_number = {line.line_number: line for line in order.lines}
    return [(by_number.get(entry.po_line.data), entry) for entry in form.lines]


def _flipped_invoice(form: FlipForm, order: PurchaseOrder, org: Organization) -> dict:
    chosen = [
        flip.FlipLine(entry.po_line.data, entry.quantity.data, entry.unit_price.data)
        for entry in form.lines
        if entry.include.data and entry.quantity.data and entry.unit_price.data is not None
    ]
    return flip.invoice_from_po(
        order,
        chosen,
        supplier=flip.FlipSupplier(org.id, org.name, org.erp_vendor_number),
        invoice_number=form.invoice_number.data,
        issue_date=form.issue_date.data,
        tax_total=form.tax_total.data or Decimal(0),
        note=form.note.data or None,
    )


def _flip_submission(invoice: dict, org: Organization) -> services.Submission:
    return services.Submission(
        kind=DocumentKind.INVOICE,
        body=json.dumps(invoice).encode(),
        content_type="application/json",
        sender=org,
        channel=Channel.PO_FLIP,
        user=current_user,
        filename=f"{invoice['po_number']}-{invoice['invoice_number']}.json",
        correlation_id=g.correlation_id,
    )
