"""Approved bank details reach the ERP's vendor record: the ERP pays whatever its vendor record
says, so a change approved in the portal is only real once the ERP holds it.

The push job is enqueued after the approval commits and retried with backoff while the ERP
does not answer; every sweep also sends again any account in force that the ERP does not hold
yet (`push_due`), so a lost job or a long outage still ends with the ERP up to date. The ERP
call carries a deterministic Idempotency-Key (`bank-account-<id>`). An account counts as in
the ERP (`erp_synced_at`) only when the vendor record the ERP answers holds its account.
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
from app.jobs import enqueue_after_commit, job
from app.onboarding.models import BankAccount, BankStatus
from app.orgs.models import Organization

log = structlog.get_logger(__name__)

PUSH_RETRY = Retry(max=6, interval=[10, 30, 120, 300, 900, 3600])
DUE_BATCH = 20


def job_id(account_id: int) -> str:
    return f"bank-push-{account_id}"


def idempotency_key(account: BankAccount) -> str:
    return f"bank-account-{account.id}"


def push_after_commit(account: BankAccount) -> None:
    """Send the account to the ERP once the approval that put it in force commits."""
    enqueue_after_commit(push_job, account.id, job_id=job_id(account.id), retry=PUSH_RETRY)


def remit_payload(account: BankAccount) -> dict[str, Any]:
    return {
        "remit_to": {
            "bank_name": account.bank_name,
            "scheme": account.scheme.value,
            "bank_code": account.bank_code,
            "account": account.account_identifier,
        },
        "reference": idempotency_key(account),
    }


def needs_push(account: BankAccount) -> bool:
    return account.status == BankStatus.ACTIVE and account.erp_synced_at is None


def push(account: BankAccount) -> bool:
    """Send the account to its vendor record; True once the ERP holds it. ErpUnavailable
    propagates (try again later); a refusal is kept on the account and audited."""
    org = account.organization
    if not needs_push(account) or not org.erp_vendor_number:
        return account.erp_synced_at is not None
    try:
        vendor = get_erp().update_vendor(
            org.erp_vendor_number,
            remit_payload(account),
            idempotency_key=idempotency_key(account),
            correlation_id=g.get("correlation_id"),
        )
    except ErpUnavailable:
        raise
    except ErpError as exc:
        _refused(org, account, str(exc))
        return False
    if vendor.remit_to is None or vendor.remit_to.account != account.account_identifier:
        _refused(org, account, "the ERP answered another account than the one sent")
        return False
    account.erp_synced_at, account.erp_sync_error = utcnow(), None
    record(
        "bank_account.erp_synced",
        organization_id=org.id,
        target=account,
        details={"vendor_number": org.erp_vendor_number},
    )
    return True


def _refused(org: Organization, account: BankAccount, message: str) -> None:
    if account.erp_sync_error == message:
        return  # already recorded; the next sweep tries again without a new entry
    account.erp_sync_error = message
    record(
        "bank_account.erp_sync_failed",
        organization_id=org.id,
        target=account,
        details={"vendor_number": org.erp_vendor_number, "error": message},
    )
    log.warning("bank details refused by the ERP", account_id=account.id, error=message)


@job
def push_job(account_id: int) -> bool:
    """The RQ entry point: push one account (locked, so two runs take turns)."""
    account = db.session.scalar(
        select(BankAccount).where(BankAccount.id == account_id).with_for_update(of=BankAccount)
    )
    return account is not None and push(account)


def push_due(now: dt.datetime | None = None) -> int:
    """Housekeeping (run by every sweep): send again the accounts in force the ERP does not
    hold yet, a batch at a time, skipping rows another sweep holds. An ERP that does not
    answer ends the batch. Answers how many reached the ERP."""
    accounts = db.session.scalars(
        select(BankAccount)
        .join(Organization, Organization.id == BankAccount.organization_id)
        .where(
            BankAccount.status == BankStatus.ACTIVE,
            BankAccount.erp_synced_at.is_(None),
            Organization.erp_vendor_number.is_not(None),
        )
        .order_by(BankAccount.id)
        .limit(DUE_BATCH)
        .with_for_update(of=BankAccount, skip_locked=True)
    ).all()
    pushed = 0
    for account in accounts:
        try:
            with db.session.begin_nested():
                pushed += push(account)
        except ErpUnavailable:
            log.warning("bank push stopped: the ERP did not answer", account_id=account.id)
            break
    return pushed
