"""The canonical purchase-order acknowledgment, version 1."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from app.canonical.parties import CanonicalModel, Party
from app.canonical.scalars import CurrencyCode, Identifier, Money, Quantity, Text

AckStatus = Literal["accepted", "rejected", "changed", "accepted_with_changes"]
LineStatus = Literal["accept", "reject", "change"]


class AcknowledgmentLine(CanonicalModel):
    """The supplier's answer for one PO line; `changed_*` are only set when they differ."""

    line_id: Identifier | None = Field(default=None, description="The line's id in the ack")
    po_line: Identifier = Field(description="The PO line this answers")
    status: LineStatus
    reason: Text | None = None
    description: Text | None = None
    supplier_item_id: Identifier | None = None
    buyer_item_id: Identifier | None = None
    standard_item_id: Identifier | None = None
    substitute_item_id: Identifier | None = None
    unit_code: Identifier | None = None
    original_quantity: Quantity | None = Field(default=None, ge=0)
    changed_quantity: Quantity | None = Field(default=None, ge=0)
    original_unit_price: Money | None = None
    changed_unit_price: Money | None = None
    price_base_quantity: Quantity | None = None
    original_delivery_date: date | None = None
    changed_delivery_date: date | None = Field(
        default=None, description="Delivery date the supplier commits to, when it states one"
    )
    notes: list[Text] = Field(default_factory=list)


class Acknowledgment(CanonicalModel):
    """Canonical PO acknowledgment (order response), schema version 1."""

    schema_version: Literal["1"] = "1"
    ack_number: Identifier
    po_number: Identifier
    issue_date: date
    status: AckStatus
    reason: Text | None = None
    currency: CurrencyCode | None = None
    supplier: Party | None = None
    buyer: Party | None = None
    ship_to: Party | None = None
    promised_delivery_date: date | None = None
    lines: list[AcknowledgmentLine] = Field(default_factory=list)
    notes: list[Text] = Field(default_factory=list)
    source_format: Identifier
    parser_version: Identifier


ACKNOWLEDGMENT_V1 = Acknowledgment
