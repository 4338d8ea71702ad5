"""Tolerance templates finance managers edit (Oracle Payables' invoice tolerance templates):
one global template and at most one override per supplier. Validation uses the template in
force for the invoice's supplier: its override when it has one, else the global template, else
the strict default `Tolerance()`.

In every limit 0 means no variance allowed and None (an empty field) means unlimited. Every
change is audited with the limits before and after. Services add and flush; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.services import record
from app.db import Model, UTCDateTime, db, utcnow
from app.matching.tolerances import Tolerance
from app.orgs.models import Organization, OrgKind

if TYPE_CHECKING:
    from app.accounts.models import User

# The eight limits, in the order Tolerance declares them (and the pages show them).
LIMITS: tuple[str, ...] = tuple(f.name for f in fields(Tolerance))
GLOBAL_NAME = "Global"
MAX_LIMIT = Decimal("99999999.9999")  # what Numeric(12, 4) holds
PLACES = 4


class ToleranceTemplateError(ValueError):
    """A template change that cannot be made; the message says why."""


class ToleranceTemplate(Model):
    __tablename__ = "tolerance_templates"
    # NULL is the global template: NULLS NOT DISTINCT allows one global and one per supplier.
    __table_args__ = (UniqueConstraint("organization_id", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_percent: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    price_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    quantity_percent: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    received_percent: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    amount_percent: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    amount_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    tax_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    total_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organization: Mapped[Organization | None] = relationship()
    updated_by: Mapped[User | None] = relationship("User")

    @property
    def is_global(self) -> bool:
        return self.organization_id is None

    def limits(self) -> dict[str, Decimal | None]:
        return {name: getattr(self, name) for name in LIMITS}

    def tolerance(self) -> Tolerance:
        return Tolerance(**self.limits())


def template_for(supplier_id: int | None) -> Tolerance:
    """The tolerance in force for a supplier: its override if any, else the global template,
    else the strict default."""
    if supplier_id is not None:
        override = override_of(supplier_id)
        if override is not None:
            return override.tolerance()
    found = global_template()
    return found.tolerance() if found is not None else Tolerance()


def global_template(*, lock: bool = False) -> ToleranceTemplate | None:
    query = select(ToleranceTemplate).where(ToleranceTemplate.organization_id.is_(None))
    return db.session.scalar(query.with_for_update() if lock else query)


def override_of(supplier_id: int, *, lock: bool = False) -> ToleranceTemplate | None:
    query = select(ToleranceTemplate).where(ToleranceTemplate.organization_id == supplier_id)
    return db.session.scalar(query.with_for_update() if lock else query)


def overrides() -> list[ToleranceTemplate]:
    """Every supplier override, by supplier name."""
    query = (
        select(ToleranceTemplate)
        .join(Organization, Organization.id == ToleranceTemplate.organization_id)
        .order_by(Organization.name)
    )
    return list(db.session.scalars(query))


def save_global(values: Mapping[str, Decimal | None], actor: User) -> ToleranceTemplate:
    """Set the global template's limits (created when missing)."""
    clean = checked(values)
    template = global_template(lock=True)
    before = _shown(template.limits()) if template is not None else None
    if template is None:
        template = ToleranceTemplate(name=GLOBAL_NAME, organization_id=None)
        db.session.add(template)
    _apply(template, clean, actor)
    _audit("tolerance_template.global_saved", template, actor, None, before)
    return template


def save_override(
    supplier: Organization, values: Mapping[str, Decimal | None], actor: User
) -> ToleranceTemplate:
    """Give an active supplier its own template, or change the one it has."""
    clean = checked(values)
    if supplier.kind != OrgKind.SUPPLIER:
        raise ToleranceTemplateError(f"{supplier.name} is not a supplier.")
    if not supplier.is_active:
        raise ToleranceTemplateError(f"{supplier.name} is not an active supplier.")
    template = override_of(supplier.id, lock=True)
    before = _shown(template.limits()) if template is not None else None
    if template is None:
        template = ToleranceTemplate(organization_id=supplier.id)
        db.session.add(template)
    template.name = supplier.name[:200]
    _apply(template, clean, actor)
    _audit("tolerance_template.override_saved", template, actor, supplier.id, before)
    return template


def remove_override(supplier: Organization, actor: User) -> None:
    """The supplier goes back to the global template."""
    template = override_of(supplier.id, lock=True)
    if template is None:
        raise ToleranceTemplateError(f"{supplier.name} has no tolerance override.")
    record(
        "tolerance_template.override_removed",
        actor=actor,
        organization_id=supplier.id,
        target=template,
        details={"before": _shown(template.limits()), "after": None},
    )
    db.session.delete(template)
    db.session.flush()


def checked(values: Mapping[str, Decimal | None]) -> dict[str, Decimal | None]:
    """The eight limits, each empty (unlimited) or a number from 0 up with at most 4 decimals."""
    unknown = set(values) - set(LIMITS)
    if unknown:
        raise ToleranceTemplateError(f"Unknown tolerance limits: {', '.join(sorted(unknown))}.")
    clean: dict[str, Decimal | None] = {}
    for name in LIMITS:
        value = values.get(name)
        if value is not None:
            value = Decimal(value)
            if not value.is_finite() or value < 0:
                raise ToleranceTemplateError(f"{name}: a limit cannot be negative.")
            if value > MAX_LIMIT:
                raise ToleranceTemplateError(f"{name}: at most {MAX_LIMIT}.")
            if -value.as_tuple().exponent > PLACES:  # type: ignore[operator]
                raise ToleranceTemplateError(f"{name}: at most {PLACES} decimal places.")
        clean[name] = value
    return clean


def _apply(template: ToleranceTemplate, clean: dict[str, Decimal | None], actor: User) -> None:
    for name, value in clean.items():
        setattr(template, name, value)
    template.updated_by_id = actor.id
    template.updated_at = utcnow()
    try:
        db.session.flush()
    except IntegrityError as error:  # another manager created the same template just now
        raise ToleranceTemplateError(
            "Someone else saved this template a moment ago: reload the page and try again."
        ) from error


def _audit(
    action: str,
    template: ToleranceTemplate,
    actor: User,
    organization_id: int | None,
    before: dict[str, str | None] | None,
) -> None:
    record(
        action,
        actor=actor,
        organization_id=organization_id,
        target=template,
        details={"before": before, "after": _shown(template.limits())},
    )


def _shown(limits: Mapping[str, Decimal | None]) -> dict[str, Any]:
    """Limits for the audit log: plain decimal strings ("5", "0.01"), None for unlimited."""
    return {
        name: None if value is None else format(Decimal(value).normalize(), "f")
        for name, value in limits.items()
    }
