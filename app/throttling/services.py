"""Throttling use cases: which tier applies, editing tiers, assigning them, and tier requests.
Services add and flush, never commit; the caller's unit of work commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.lifecycle import Lifecycle
from app.oauth.models import ApiClient
from app.orgs.models import Organization
from app.throttling.models import (
    ClientTierOverride,
    OrganizationTier,
    Tier,
    TierRequest,
    TierRequestState,
)
from app.throttling.rules import TierLimits

TIER_FIELDS = (
    "name",
    "description",
    "requests_per_minute",
    "burst_per_second",
    "requests_per_day",
    "max_body_bytes",
    "documents_per_day",
)
# Set on the session when a change must reach the tier caches once it commits.
CHANGED_FLAG = "throttle_tiers_changed"


class ThrottlingError(ValueError):
    """A user-facing reason a tier change cannot be made."""


def _tiers_changed() -> None:
    db.session.info[CHANGED_FLAG] = True


def limits_of(tier: Tier) -> TierLimits:
    return TierLimits(
        tier_id=tier.id,
        name=tier.name,
        requests_per_minute=tier.requests_per_minute,
        burst_per_second=tier.burst_per_second,
        requests_per_day=tier.requests_per_day,
        max_body_bytes=tier.max_body_bytes,
        documents_per_day=tier.documents_per_day,
    )


# -- which tier applies ----------------------------------------------------------------


def all_tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.requests_per_minute, Tier.id)))


def default_tier() -> Tier:
    tier = db.session.scalars(select(Tier).where(Tier.is_default).order_by(Tier.id)).first()
    # Never unthrottled: without a default, the tightest tier applies.
    tier = (
        tier or db.session.scalars(select(Tier).order_by(Tier.requests_per_minute, Tier.id)).first()
    )
    if tier is None:
        raise RuntimeError("no throttling tiers exist; `flask --app wsgi db upgrade` seeds them")
    return tier


def organization_tier(organization_id: int) -> Tier:
    """The organization's assigned tier, or the default tier."""
    assigned = db.session.get(OrganizationTier, organization_id)
    return assigned.tier if assigned else default_tier()


def client_override(organization_id: int, api_client_id: int) -> ClientTierOverride | None:
    """An override counts only for a client of that very organization."""
    return db.session.scalar(
        select(ClientTierOverride).where(
            ClientTierOverride.api_client_id == api_client_id,
            ClientTierOverride.organization_id == organization_id,
        )
    )


def client_tier(organization_id: int, api_client_id: int) -> Tier:
    override = client_override(organization_id, api_client_id)
    return override.tier if override else organization_tier(organization_id)


def tier_limits_for(organization_id: int, api_client_id: int) -> TierLimits:
    """The limits the enforcement path applies to one API client."""
    return limits_of(client_tier(organization_id, api_client_id))


# -- editing tiers -----------------------------------------------------------------------


def _check_tier_values(values: dict[str, Any], tier: Tier) -> None:
    if values["burst_per_second"] > values["requests_per_minute"]:
        raise ThrottlingError("The burst per second cannot be larger than the rate per minute.")
    if values["requests_per_minute"] > values["requests_per_day"]:
        raise ThrottlingError("The rate per minute cannot be larger than the daily quota.")
    same_name = db.session.scalar(
        select(Tier.id).where(Tier.name == values["name"], Tier.id != tier.id)
    )
    if same_name:
        raise ThrottlingError(f"Another tier is already called {values['name']}.")


def update_tier(tier: Tier, values: dict[str, Any], *, make_default: bool, actor: User) -> Tier:
    """Change a tier's limits; clients on it get them on their next request."""
    _check_tier_values(values, tier)
    if tier.is_default and not make_default:
        raise ThrottlingError("Make another tier the default instead; one tier must be it.")
    before = {field: getattr(tier, field) for field in TIER_FIELDS}
    for field in TIER_FIELDS:
        setattr(tier, field, values[field])
    if make_default and not tier.is_default:
        for other in db.session.scalars(select(Tier).where(Tier.is_default)):
            other.is_default = False
        tier.is_default = True
    db.session.flush()
    changes = {f: [before[f], values[f]] for f in TIER_FIELDS if before[f] != values[f]}
    record(
        "throttling.tier_updated",
        actor=actor,
        target=tier,
        details={"changes": changes, "default": tier.is_default},
    )
    _tiers_changed()
    return tier


# -- assigning tiers ---------------------------------------------------------------------


def assign_tier(organization: Organization, tier: Tier, *, actor: User | None) -> None:
    """Put an organization's clients (those without an override) on `tier`."""
    row = db.session.get(OrganizationTier, organization.id)
    previous = row.tier.name if row else None
    if row is None:
        row = OrganizationTier(organization_id=organization.id, tier_id=tier.id)
        db.session.add(row)
    row.tier_id, row.assigned_by_id = tier.id, actor.id if actor else None
    db.session.flush()
    db.session.expire(row, ["tier"])
    record(
        "throttling.tier_assigned",
        actor=actor,
        organization_id=organization.id,
        target=organization,
        details={"tier": tier.name, "previous": previous},
    )
    _tiers_changed()


def set_client_override(
    organization: Organization, api_client_id: int, tier: Tier, *, actor: User
) -> ClientTierOverride:
    client = db.session.get(ApiClient, api_client_id)
    if client is None or client.organization_id != organization.id:
        raise ThrottlingError(f"{organization.name} has no API client {api_client_id}.")
    existing = db.session.scalar(
        select(ClientTierOverride).where(ClientTierOverride.api_client_id == api_client_id)
    )
    override = existing or ClientTierOverride(
        api_client_id=api_client_id, organization_id=organization.id, tier_id=tier.id
    )
    override.tier_id, override.assigned_by_id = tier.id, actor.id
    db.session.add(override)
    db.session.flush()
    db.session.expire(override, ["tier"])
    record(
        "throttling.client_override_set",
        actor=actor,
        organization_id=organization.id,
        target=override,
        details={"api_client_id": api_client_id, "tier": tier.name},
    )
    _tiers_changed()
    return override


def remove_client_override(override: ClientTierOverride, *, actor: User) -> None:
    record(
        "throttling.client_override_removed",
        actor=actor,
        organization_id=override.organization_id,
        target=override,
        details={"api_client_id": override.api_client_id, "tier": override.tier.name},
    )
    db.session.delete(override)
    db.session.flush()
    _tiers_changed()


def overrides_of(organization_id: int) -> list[ClientTierOverride]:
    return list(
        db.session.scalars(
            select(ClientTierOverride)
            .where(ClientTierOverride.organization_id == organization_id)
            .order_by(ClientTierOverride.api_client_id)
        )
    )


# -- tier requests -----------------------------------------------------------------------


def open_request(organization_id: int) -> TierRequest | None:
    return db.session.scalar(
        select(TierRequest).where(
            TierRequest.organization_id == organization_id,
            TierRequest.state == TierRequestState.PENDING,
        )
    )


def latest_request(organization_id: int) -> TierRequest | None:
    return db.session.scalar(
        select(TierRequest)
        .where(TierRequest.organization_id == organization_id)
        .order_by(TierRequest.id.desc())
        .limit(1)
    )


def request_tier(
    organization: Organization, tier: Tier, reason: str, *, actor: User
) -> TierRequest:
    """Ask for another tier; it waits PENDING until a procurement admin decides."""
    current = organization_tier(organization.id)
    if tier.id == current.id:
        raise ThrottlingError(f"Your organization is already on {tier.name}.")
    if open_request(organization.id) is not None:
        raise ThrottlingError(
            "Your organization already has a tier request waiting for a decision."
        )
    tier_request = TierRequest(
        organization_id=organization.id,
        requested_tier_id=tier.id,
        current_tier_id=current.id,
        reason=reason.strip(),
        requested_by_id=actor.id,
    )
    db.session.add(tier_request)
    db.session.flush()
    record(
        "throttling.tier_requested",
        actor=actor,
        organization_id=organization.id,
        target=tier_request,
        details={"from": current.name, "to": tier.name},
    )
    return tier_request


def pending_requests() -> list[TierRequest]:
    return list(
        db.session.scalars(
            select(TierRequest)
            .where(TierRequest.state == TierRequestState.PENDING)
            .order_by(TierRequest.created_at, TierRequest.id)
        )
    )


def decided_requests(limit: int = 20) -> list[TierRequest]:
    return list(
        db.session.scalars(
            select(TierRequest)
            .where(TierRequest.state != TierRequestState.PENDING)
            .order_by(TierRequest.decided_at.desc(), TierRequest.id.desc())
            .limit(limit)
        )
    )


# -- a tier request's life cycle ----------------------------------------------------------------
# Tier requests call their life cycle `state` (TierRequestState), like documents; organizations,
# bank accounts and identity providers call theirs `status`. A request is born PENDING
# (`request_tier`, the column default); every change after that goes through `transition`.
R = TierRequestState

ALLOWED: dict[TierRequestState, frozenset[TierRequestState]] = {
    R.PENDING: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset(),
    R.REJECTED: frozenset(),
}


class TierRequestTransitionError(ThrottlingError):
    """A change of state the tier request's life cycle does not allow."""

    def __init__(self, tier_request: TierRequest, to_state: TierRequestState) -> None:
        if tier_request.state != TierRequestState.PENDING:
            super().__init__("This request has already been decided.")
        else:
            super().__init__(f"A pending tier request cannot become {to_state.value}.")


TIER_REQUESTS: Lifecycle[TierRequest, TierRequestState] = Lifecycle(
    "state",
    ALLOWED,
    "throttling.tier_request_",
    TierRequestTransitionError,
    lambda r: r.organization_id,
)


can_transition = TIER_REQUESTS.can
# Audited as `throttling.tier_request_<state>` unless the caller names the action.
transition = TIER_REQUESTS.move


def _decide(tier_request: TierRequest, state: TierRequestState, note: str, actor: User) -> None:
    if not can_transition(tier_request.state, state):
        raise TierRequestTransitionError(tier_request, state)
    tier_request.decided_by_id = actor.id
    tier_request.decided_at = utcnow()
    tier_request.decision_note = note.strip()
    transition(
        tier_request,
        state,
        actor=actor,
        action=f"throttling.tier_request_{state.value.lower()}",
        details={"tier": tier_request.requested_tier.name, "note": tier_request.decision_note},
    )


def approve_request(tier_request: TierRequest, *, note: str, actor: User) -> None:
    """Approve: the organization's clients get the new tier on their very next request."""
    _decide(tier_request, TierRequestState.APPROVED, note, actor)
    assign_tier(tier_request.organization, tier_request.requested_tier, actor=actor)


def reject_request(tier_request: TierRequest, *, note: str, actor: User) -> None:
    """Reject, saying why: the organization sees the note."""
    if not note.strip():
        raise ThrottlingError("Say why the request is rejected; the organization sees it.")
    _decide(tier_request, TierRequestState.REJECTED, note, actor)
