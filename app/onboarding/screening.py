"""Healthcare exclusion screening against a list in the US OIG LEIE file layout.

The LEIE has no tax id column (the OIG keeps SSNs/EINs out of the public file), so a tax id is
matched only when the loaded file carries an extra EIN, TIN or TAXID column; business names
are always matched, after normalization (case, punctuation, accents and legal forms ignored).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import ColumnElement, delete, insert, or_, select

from app.audit.services import record
from app.db import db, utcnow
from app.onboarding import rules
from app.onboarding.enrollment import check_no_conflict
from app.onboarding.errors import ConflictOfInterest, OnboardingError
from app.onboarding.models import ExclusionEntry, ExclusionListLoad, Screening, existing_profile
from app.orgs.models import Organization

LEIE_COLUMNS = (
    "LASTNAME", "FIRSTNAME", "MIDNAME", "BUSNAME", "GENERAL", "SPECIALTY", "UPIN", "NPI",
    "DOB", "ADDRESS", "CITY", "STATE", "ZIP", "EXCLTYPE", "EXCLDATE", "REINDATE",
    "WAIVERDATE", "WVRSTATE",
)  # fmt: skip
TAX_ID_COLUMNS = ("EIN", "TIN", "TAXID")
BATCH = 5000


class ListFormatError(ValueError):
    """The file is not in the LEIE layout."""


@dataclass(frozen=True)
class LoadResult:
    load: ExclusionListLoad
    loaded: int
    skipped: int


def _date(value: str) -> dt.date | None:
    """LEIE dates are YYYYMMDD, with 00000000 for none."""
    value = (value or "").strip()
    if not value or set(value) == {"0"}:
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d").replace(tzinfo=dt.UTC).date()
    except ValueError:
        return None


def _display_name(row: dict[str, str]) -> str:
    business = (row.get("BUSNAME") or "").strip()
    if business:
        return business
    parts = (row.get("FIRSTNAME"), row.get("MIDNAME"), row.get("LASTNAME"))
    return " ".join(p.strip() for p in parts if p and p.strip())


def _name_key(row: dict[str, str]) -> str:
    business = (row.get("BUSNAME") or "").strip()
    if business:
        return rules.name_key(business)
    first, last = (row.get("FIRSTNAME") or "").strip(), (row.get("LASTNAME") or "").strip()
    return rules.name_key(f"{first} {last}")


def _tax_key(row: dict[str, str]) -> str | None:
    for column in TAX_ID_COLUMNS:
        value = rules.tax_key(row.get(column) or "")
        if value.strip("0"):
            return value
    return None


def _entry(row: dict[str, str], load_id: int, today: dt.date) -> dict[str, Any] | None:
    """An entry for a row still in force, or None (reinstated, or naming nobody)."""
    reinstated = _date(row.get("REINDATE", ""))
    key = _name_key(row)
    tax = _tax_key(row)
    if (reinstated and reinstated <= today) or not (key or tax):
        return None
    npi = (row.get("NPI") or "").strip()
    return {
        "load_id": load_id,
        "name_key": key[:300],
        "display_name": _display_name(row)[:300],
        "tax_key": tax,
        "npi": npi if npi.strip("0") else None,
        "exclusion_type": (row.get("EXCLTYPE") or "").strip()[:16] or None,
        "excluded_on": _date(row.get("EXCLDATE", "")),
        "city": (row.get("CITY") or "").strip()[:100] or None,
        "state": (row.get("STATE") or "").strip()[:2] or None,
    }


def _rows(stream: IO[str]) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(stream)
    header = [h.strip().upper() for h in (reader.fieldnames or [])]
    if missing := [c for c in LEIE_COLUMNS if c not in header]:
        raise ListFormatError(f"not an LEIE file: missing column(s) {', '.join(missing)}")
    reader.fieldnames = header
    yield from reader


def _batches(items: Iterable[dict[str, Any] | None], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        if item is not None:
            batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_list(stream: IO[str], source: str, *, actor=None) -> LoadResult:
    """Replace the exclusion list with the file's entries (the LEIE is published whole)."""
    today = utcnow().date()
    load = ExclusionListLoad(source=source[-255:], entry_count=0)
    db.session.add(load)
    db.session.flush()
    db.session.execute(delete(ExclusionEntry).where(ExclusionEntry.load_id != load.id))
    seen = loaded = 0

    def entries() -> Iterator[dict[str, Any] | None]:
        nonlocal seen
        for row in _rows(stream):
            seen += 1
            yield _entry(row, load.id, today)

    for batch in _batches(entries(), BATCH):
        db.session.execute(insert(ExclusionEntry), batch)
        loaded += len(batch)
    load.entry_count, load.skipped_count = loaded, seen - loaded
    record(
        "screening.list_loaded",
        actor=actor,
        target=load,
        details={"source": load.source, "entries": loaded, "skipped": seen - loaded},
    )
    return LoadResult(load, loaded, seen - loaded)


def current_load() -> ExclusionListLoad | None:
    return db.session.scalar(
        select(ExclusionListLoad).order_by(ExclusionListLoad.id.desc()).limit(1)
    )


def _names_of(org: Organization) -> set[str]:
    profile = existing_profile(org)
    names = {org.name, profile.trading_name if profile else None}
    return {rules.name_key(n) for n in names if n and rules.name_key(n)}


def _hit(entry: ExclusionEntry, tax: str | None) -> dict[str, str | None]:
    matched = "tax id" if tax and entry.tax_key == tax else "name"
    return {
        "name": entry.display_name,
        "matched_on": matched,
        "exclusion_type": entry.exclusion_type,
        "excluded_on": entry.excluded_on.isoformat() if entry.excluded_on else None,
        "city": entry.city,
        "state": entry.state,
        "npi": entry.npi,
    }


def find_hits(org: Organization) -> list[dict[str, str | None]]:
    names = _names_of(org)
    profile = existing_profile(org)
    tax_id = profile.tax_id if profile else None
    tax = rules.tax_key(tax_id) if tax_id else None
    conditions: list[ColumnElement[bool]] = [ExclusionEntry.name_key.in_(names)] if names else []
    if tax:
        conditions.append(ExclusionEntry.tax_key == tax)
    if not conditions:
        return []
    entries = db.session.scalars(select(ExclusionEntry).where(or_(*conditions)).limit(50))
    return [_hit(e, tax) for e in entries]


def screen(org: Organization, *, actor=None) -> Screening:
    """Check the organization against the list in force; with no list loaded it cannot pass."""
    load = current_load()
    screening = Screening(
        organization_id=org.id,
        list_load_id=load.id if load else None,
        hits=find_hits(org) if load else [],
    )
    db.session.add(screening)
    db.session.flush()
    record(
        "screening.run",
        actor=actor,
        organization_id=org.id,
        target=screening,
        details={
            "list_loaded_at": load.loaded_at.isoformat() if load else None,
            "hits": len(screening.hits),
            "result": "clear" if screening.clear else ("hit" if load else "no list loaded"),
        },
    )
    return screening


def latest(org: Organization) -> Screening | None:
    query = (
        select(Screening)
        .where(Screening.organization_id == org.id)
        .order_by(Screening.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def _lock(screening: Screening) -> None:
    # Two admins acting at once take turns; the second sees what the first did.
    db.session.refresh(screening, with_for_update=True)


def propose_override(org: Organization, screening: Screening, reason: str, *, actor) -> None:
    """A procurement admin proposes to clear a hit (or a missing list) with a written reason;
    the screening still fails until a second procurement admin confirms (four eyes)."""
    check_no_conflict(org, actor)
    _lock(screening)
    if screening.clear:
        raise OnboardingError("The screening is clear; there is nothing to override.")
    if screening.overridden_at is not None:
        raise OnboardingError("This screening was already overridden.")
    if screening.override_proposed_at is not None:
        raise OnboardingError("An override is already proposed; another admin must confirm it.")
    if not reason.strip():
        raise OnboardingError("A reason is required to override a screening.")
    screening.override_proposed_by_id, screening.override_proposed_at = actor.id, utcnow()
    screening.override_reason = reason.strip()
    record(
        "screening.override_proposed",
        actor=actor,
        organization_id=org.id,
        target=screening,
        details={"reason": screening.override_reason, "hits": screening.hits},
    )


def confirm_override(org: Organization, screening: Screening, *, actor) -> None:
    """A second procurement admin, not the proposer, confirms: the screening now passes."""
    check_no_conflict(org, actor)
    _lock(screening)
    if screening.overridden_at is not None:
        raise OnboardingError("This screening was already overridden.")
    if screening.override_proposed_at is None:
        raise OnboardingError("No override is proposed for this screening.")
    if actor.id == screening.override_proposed_by_id:
        raise ConflictOfInterest(
            "You proposed this override; a second procurement admin must confirm it."
        )
    screening.overridden_by_id, screening.overridden_at = actor.id, utcnow()
    record(
        "screening.overridden",
        actor=actor,
        organization_id=org.id,
        target=screening,
        details={
            "reason": screening.override_reason,
            "proposed_by_id": screening.override_proposed_by_id,
            "confirmed_by_id": actor.id,
            "hits": screening.hits,
        },
    )


def withdraw_override(org: Organization, screening: Screening, *, actor) -> None:
    """Either admin may drop a proposal that is not confirmed yet (a wrong reason, say)."""
    check_no_conflict(org, actor)
    _lock(screening)
    if not screening.override_pending:
        raise OnboardingError("No override is waiting for confirmation.")
    record(
        "screening.override_withdrawn",
        actor=actor,
        organization_id=org.id,
        target=screening,
        details={
            "reason": screening.override_reason,
            "proposed_by_id": screening.override_proposed_by_id,
        },
    )
    screening.override_proposed_by_id = screening.override_proposed_at = None
    screening.override_reason = None
