"""Parties, addresses and bank details: the pieces invoices and acknowledgments share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from stdnum import iban as stdnum_iban

from app.canonical.scalars import Identifier, Text


class CanonicalModel(BaseModel):
    """Base for every canonical model: unknown fields are refused, so typos surface."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SchemeId(CanonicalModel):
    """An identifier with the scheme that makes it meaningful (GLN `0088`, `DUNS`, `VAT`)."""

    scheme: Identifier | None = None
    value: Identifier


class Address(CanonicalModel):
    lines: list[Text] = Field(default_factory=list)
    city: Text | None = None
    postal_code: Identifier | None = None
    region: Text | None = None
    country: Identifier | None = Field(default=None, description="ISO 3166-1 alpha-2 if known")


class Contact(CanonicalModel):
    name: Text | None = None
    phone: Identifier | None = None
    email: Identifier | None = None


class Party(CanonicalModel):
    """A supplier, buyer or delivery location as the document names it."""

    name: Text | None = None
    legal_name: Text | None = None
    identifiers: list[SchemeId] = Field(default_factory=list)
    tax_ids: list[SchemeId] = Field(default_factory=list)
    portal_id: Identifier | None = Field(default=None, description="Supplier id in this portal")
    erp_vendor_number: Identifier | None = Field(
        default=None, description="The buyer's vendor number for this supplier, if sent"
    )
    addresses: list[Address] = Field(default_factory=list)
    contact: Contact | None = None


class BankAccount(CanonicalModel):
    """Where the supplier asks to be paid: an IBAN (+BIC) or an account and routing number."""

    iban: Identifier | None = None
    bic: Identifier | None = None
    account_number: Identifier | None = None
    routing_number: Identifier | None = None
    account_name: Text | None = None

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not stdnum_iban.is_valid(value):
            raise PydanticCustomError(
                "invalid_iban", "{value!r} is not a valid IBAN", {"value": value}
            )
        return stdnum_iban.compact(value)
