"""Background onboarding work: the ERP vendor for an approved supplier, certificate expiry.

Both are safe to run twice: the vendor job links the organization once and stops; the
certificate check remembers whom it told and whom it suspended.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from flask import g
from rq import Retry
from sqlalchemy import select

from app.audit.services import record
from app.db import db, utcnow
from app.erp import get_erp
from app.erp.errors import ErpError, ErpUnavailable
from app.jobs import job
from app.onboarding import banking, notify
from app.onboarding.models import SupportingDocument, SupportingDocumentKind
from app.onboarding.profile import profile_of
from app.onboarding.rules import CERTIFICATE_EXPIRED
from app.onboarding.states import transition
from app.orgs.models import Organization, OrgKind, OrgStatus

log = structlog.get_logger(__name__)
SYNC_RETRY = Retry(max=6, interval=[10, 30, 120, 300, 900, 3600])
EXPIRY_NOTICE_DAYS = 30


def sync_vendor_job_id(org_id: int) -> str:
    return f"onboarding-vendor-{org_id}"


def vendor_payload(org: Organization) -> dict[str, Any]:
    """What the ERP needs to create the vendor (or to find it by tax id)."""
    profile = profile_of(org)
    remit = profile.remit_address or {}
    account = banking.active_account(org)
    contacts = profile.contacts or {}
    payload: dict[str, Any] = {
        "name": org.name[:200],
        "tax_id": profile.tax_id,
        "country": (org.country or "US").upper(),
        "currency": profile.currency or "USD",
        "email": (contacts.get("accounts_receivable") or {}).get("email"),
        "street": remit.get("street"),
        "city": remit.get("city"),
        "region": remit.get("region"),
        "postal_code": remit.get("postal_code"),
    }
    if account is not None:
        payload["remit_to"] = {
            "bank_name": account.bank_name,
            "scheme": account.scheme.value,
            "bank_code": account.bank_code,
            "account": account.account_identifier,
        }
    return payload


def _locked(org_id: int) -> Organization | None:
    """The organization row, locked so two runs of the job take turns."""
    return db.session.scalar(
        select(Organization).where(Organization.id == org_id).with_for_update()
    )


@job
def sync_vendor(org_id: int) -> str | None:
    """Create or link the ERP vendor of an approved supplier, then make it ACTIVE.

    ERP outages raise so RQ retries; an ERP refusal is kept on the profile for procurement.
    Returns the vendor number, or None when there was nothing (more) to do.
    """
    org = _locked(org_id)
    if org is None or org.status != OrgStatus.APPROVED or org.kind != OrgKind.SUPPLIER:
        return None
    try:
        vendor, created = get_erp().find_or_create_vendor(
            vendor_payload(org), correlation_id=g.get("correlation_id")
        )
    except ErpUnavailable:
        raise
    except ErpError as exc:
        _record_sync_error(org, str(exc))
        return None
    return _link(org, vendor.number, created)


def _link(org: Organization, vendor_number: str, created: bool) -> str | None:
    owner = db.session.scalar(
        select(Organization).where(Organization.erp_vendor_number == vendor_number)
    )
    if owner is not None and owner.id != org.id:
        _record_sync_error(
            org, f"ERP vendor {vendor_number} is already linked to {owner.name} in the portal."
        )
        return None
    org.erp_vendor_number = vendor_number
    profile_of(org).erp_sync_error = None
    transition(
        org,
        OrgStatus.ACTIVE,
        actor=None,
        reason="ERP vendor created" if created else "linked to the existing ERP vendor",
        details={"erp_vendor_number": vendor_number, "created": created},
    )
    return vendor_number


def _record_sync_error(org: Organization, message: str) -> None:
    profile_of(org).erp_sync_error = message
    record(
        "onboarding.vendor_sync_failed",
        organization_id=org.id,
        target=org,
        details={"error": message},
    )
    notify.tell_procurement(
        org, "ERP vendor could not be created", "procurement_sync_failed", error=message
    )
    log.warning("vendor sync refused by the ERP", org_id=org.id, error=message)


# -- certificates of insurance -----------------------------------------------------------------


def _current_certificates() -> list[tuple[SupportingDocument, Organization]]:
    query = (
        select(SupportingDocument, Organization)
        .join(Organization, Organization.id == SupportingDocument.organization_id)
        .where(
            SupportingDocument.kind == SupportingDocumentKind.INSURANCE,
            SupportingDocument.superseded_at.is_(None),
            SupportingDocument.expires_on.is_not(None),
            Organization.status.in_([OrgStatus.ACTIVE, OrgStatus.SUSPENDED]),
        )
    )
    return [(doc, org) for doc, org in db.session.execute(query)]


def _notify_expiring(doc: SupportingDocument, org: Organization, today: dt.date) -> bool:
    assert doc.expires_on is not None  # noqa: S101 - the query only returns dated certificates
    if doc.expiry_notified_at is not None or not today <= doc.expires_on <= today + dt.timedelta(
        days=EXPIRY_NOTICE_DAYS
    ):
        return False
    doc.expiry_notified_at = utcnow()
    record(
        "onboarding.certificate_expiring",
        organization_id=org.id,
        target=doc,
        details={"expires_on": doc.expires_on.isoformat()},
    )
    notify.tell_org(
        org, "Your certificate of insurance expires soon", "certificate_expiring", document=doc
    )
    return True


def _suspend_expired(doc: SupportingDocument, org: Organization, today: dt.date) -> bool:
    assert doc.expires_on is not None  # noqa: S101 - the query only returns dated certificates
    if org.status != OrgStatus.ACTIVE or doc.expires_on >= today:
        return False
    profile_of(org).suspended_reason = CERTIFICATE_EXPIRED
    transition(
        org,
        OrgStatus.SUSPENDED,
        actor=None,
        reason=f"certificate of insurance expired on {doc.expires_on.isoformat()}; invoicing is suspended",
        details={"document_id": doc.id},
    )
    return True


def check_certificates(today: dt.date | None = None) -> dict[str, int]:
    """Warn 30 days before a certificate expires; suspend the supplier once it has expired."""
    today = today or utcnow().date()
    counts = {"notified": 0, "suspended": 0}
    for doc, org in _current_certificates():
        counts["notified"] += _notify_expiring(doc, org, today)
        counts["suspended"] += _suspend_expired(doc, org, today)
    return counts


@job
def check_certificates_job() -> dict[str, int]:
    """The daily run for a scheduler (`flask --app wsgi onboarding check-certificates` too)."""
    return check_certificates()
