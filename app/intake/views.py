"""Supplier pages for documents: the organization's documents with their states, errors and
timelines; sending a file; and invoicing an open purchase order ("PO flip")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePath

from flask import Blueprint, Response, abort, flash, g, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from app.accounts.access import require_role
from app.documents import queries
from app.documents.models import Channel, Document, DocumentKind, DocumentState
from app.documents.transitions import outside_label, outside_reason
from app.erp import get_erp
from app.erp.errors import ErpError, ErpNotFound
from app.erp.interface import OPEN_PO_STATUSES, PurchaseOrder
from app.formats import EnvelopeError
from app.intake import correction, examples, flip, services
from app.intake.forms import CorrectionForm, FlipForm, UploadForm
from app.intake.portal import form_submission, receive_own, sent
from app.intake.words import state_label, state_words
from app.matching import settlement
from app.matching.queries import holds_of
from app.matching.services import billed
from app.orgs.models import Organization, OrgKind
from app.orgs.roles import Role

bp = Blueprint("intake", __name__)
# The supplier's lists (documents, a PO's invoices) say each state in the supplier's words.
bp.add_app_template_filter(state_label, "state_label")

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


@bp.get("/documents/<int:document_id>")
@require_role(*READERS)
def document(document_id: int) -> str:
    found = _visible(document_id)
    return render_template(
        "intake/document.html",
        document=found,
        payload=found.payload,
        state_words=state_words(found),
        can_correct=_correctable(found) and current_user.has_role(*SENDERS),
        holds=holds_of(found.id),
        settlement_words=settlement.words,
        outside_label=outside_label,
        outside_reason=outside_reason,
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
        documents = receive_own(submission, org)
    except EnvelopeError as error:
        form.file.errors = [str(error)]
        return render_template("intake/upload.html", form=form, examples=examples.FORMATS), 400
    return sent(documents)


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
            return sent(receive_own(_flip_submission(invoice, org), org))
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
    return form_submission(invoice, org, invoice["po_number"], channel=Channel.PO_FLIP)


# -- correcting or crediting a rejected invoice ----------------------------------------------


def _correctable(document: Document) -> bool:
    """A rejected invoice that was read (its lines are known) can be corrected or credited."""
    return (
        document.kind == DocumentKind.INVOICE
        and document.state == DocumentState.REJECTED
        and bool(document.canonical)
    )


def _own_rejected(document_id: int, org: Organization) -> Document:
    found = _visible(document_id)
    if found.supplier_org_id != org.id:
        abort(404, "No such document.")
    if not _correctable(found):
        abort(409, "Only a rejected invoice can be corrected or credited here.")
    return found


@bp.route("/documents/<int:document_id>/correct", methods=["GET", "POST"])
@require_role(*SENDERS)
def correct(document_id: int) -> str | WerkzeugResponse | tuple[str, int]:
    org = _active_supplier()
    rejected = _own_rejected(document_id, org)
    canonical = rejected.canonical or {}
    form = CorrectionForm()
    if request.method == "GET":
        _prefill_correction(form, canonical, request.args.get("as", correction.INVOICE))
    elif form.validate_on_submit():
        try:
            corrected = _corrected(form, canonical)
        except correction.CorrectionError as error:
            flash(str(error).capitalize() + ".", "error")
        else:
            return sent(receive_own(form_submission(corrected, org, "correction"), org))
    lines = {str(line["line_id"]): line for line in canonical.get("lines", [])}
    return render_template(
        "intake/correct.html",
        form=form,
        rejected=rejected,
        lines=[(lines.get(entry.line_id.data, {}), entry) for entry in form.lines],
    ), (400 if request.method == "POST" else 200)


def _prefill_correction(form: CorrectionForm, canonical: dict, document_type: str) -> None:
    credit = document_type == correction.CREDIT_NOTE
    form.document_type.data = correction.CREDIT_NOTE if credit else correction.INVOICE
    number = canonical.get("invoice_number", "")
    # A corrected invoice may reuse the number (the rejected one is no duplicate); a credit
    # note needs its own.
    form.invoice_number.data = f"CN-{number}" if credit else number
    form.tax_total.data = Decimal(str((canonical.get("totals") or {}).get("tax_total") or 0))
    for line in canonical.get("lines", []):
        form.lines.append_entry(
            {
                "line_id": str(line["line_id"]),
                "quantity": Decimal(str(line["quantity"])).copy_abs(),
                "unit_price": Decimal(str(line.get("unit_price") or 0)),
            }
        )


def _corrected(form: CorrectionForm, canonical: dict) -> dict:
    return correction.correction_of(
        canonical,
        [
            correction.CorrectedLine(entry.line_id.data, entry.quantity.data, entry.unit_price.data)
            for entry in form.lines
        ],
        document_type=form.document_type.data,
        invoice_number=form.invoice_number.data,
        issue_date=form.issue_date.data,
        tax_total=form.tax_total.data or Decimal(0),
        note=form.note.data or None,
    )
