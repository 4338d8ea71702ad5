"""Documents with a timeline written as given: for tests that need known states and times
(the ops console's figures) rather than a document sent through intake."""

from __future__ import annotations

import datetime as dt
import hashlib

import factory

from app.db import db
from app.documents.models import (
    Channel,
    Document,
    DocumentEvent,
    DocumentKind,
    DocumentState,
    RawPayload,
)
from tests.factories.base import BaseFactory
from tests.factories.orgs import OrganizationFactory

BODY = b'{"invoice": "test"}'


class RawPayloadFactory(BaseFactory):
    class Meta:
        model = RawPayload

    sha256 = hashlib.sha256(BODY).hexdigest()
    content_type = "application/json"
    size = len(BODY)
    body = BODY
    channel = Channel.API
    sender_org_id = factory.LazyAttribute(lambda o: OrganizationFactory(supplier=True).id)


class DocumentFactory(BaseFactory):
    """An invoice. `timeline=[(state, at), ...]` writes those entries (the first one is its
    receipt) and leaves the document in the last state, as `transition` would have."""

    class Meta:
        model = Document

    kind = DocumentKind.INVOICE
    state = DocumentState.RECEIVED
    sender_org_id = factory.LazyAttribute(lambda o: OrganizationFactory(supplier=True).id)
    supplier_org_id = factory.SelfAttribute("sender_org_id")
    payload_id = factory.LazyAttribute(
        lambda o: RawPayloadFactory(sender_org_id=o.sender_org_id).id
    )
    payload_index = 0
    identity = factory.Sequence(lambda n: f"INV-{n}")
    document_number = factory.SelfAttribute("identity")
    correlation_id = factory.Sequence(lambda n: f"corr-{n}")
    source_format = "json"

    @factory.post_generation
    def timeline(self, create: bool, entries: list[tuple[DocumentState, dt.datetime]] | None):
        previous = None
        for state, at in entries or ():
            DocumentEventFactory(document_id=self.id, from_state=previous, to_state=state, at=at)
            previous = state
        if previous is not None:
            self.state = previous
            db.session.flush()  # a request in its own session must see the state


class DocumentEventFactory(BaseFactory):
    class Meta:
        model = DocumentEvent

    to_state = DocumentState.RECEIVED
    actor_label = "system"
    reason = ""
