"""What the supplier's portal pages share when they send a document: a document filled in on a
page as canonical JSON, received for the signed-in supplier, and the answer the browser gets
(the new documents, or the earlier one when the same file was sent before)."""

from __future__ import annotations

import json

from flask import flash, g, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from app.documents.models import Channel, DocumentKind
from app.documents.transitions import Received
from app.intake import services
from app.intake.repeats import RepeatedPayloadError
from app.orgs.models import Organization

# What sending gave: the new documents, or the refusal of a file already received.
Outcome = list[Received] | RepeatedPayloadError


def form_submission(
    document: dict,
    org: Organization,
    prefix: str,
    *,
    kind: DocumentKind = DocumentKind.INVOICE,
    channel: Channel = Channel.FORM,
) -> services.Submission:
    """A document the supplier filled in on a portal page, as canonical JSON."""
    number = document.get("invoice_number") or document.get("ack_number")
    return services.Submission(
        kind=kind,
        body=json.dumps(document).encode(),
        content_type="application/json",
        sender=org,
        channel=channel,
        user=current_user,
        filename=f"{prefix}-{number}.json",
        correlation_id=g.correlation_id,
    )


def receive_own(submission: services.Submission, supplier: Organization) -> Outcome:
    """A supplier sends for itself: every document in the payload is its own. A file it sent
    before (and that was not rejected) is not stored again: the refusal is returned for
    `sent` to show."""
    try:
        return services.submit(submission, lambda _: supplier, actor=current_user).documents
    except RepeatedPayloadError as refused:
        return refused


def sent(outcome: Outcome) -> WerkzeugResponse:
    """Tell the supplier what arrived and show it (the one document, or the list); for a file
    already received, say so and show the document it became the first time."""
    if isinstance(outcome, RepeatedPayloadError):
        flash(str(outcome), "error")
        if outcome.earlier is None:
            return redirect(url_for("intake.documents"))
        return redirect(url_for("intake.document", document_id=outcome.earlier.id))
    documents = outcome
    count = len(documents)
    flash(
        f"Received {count} document{'s' if count != 1 else ''}; "
        "they are being checked now and their state updates on this page.",
        "success",
    )
    if count == 1:
        return redirect(url_for("intake.document", document_id=documents[0].id))
    return redirect(url_for("intake.documents"))
