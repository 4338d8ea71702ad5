"""Submission and review: the checks a reviewer sees, and approve / reject / request changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.audit.services import record
from app.db import db, utcnow
from app.jobs import enqueue_after_commit
from app.oauth.scopes import SCOPES
from app.onboarding import banking, documents, rules, screening
from app.onboarding.enrollment import check_no_conflict
from app.onboarding.errors import FieldError, OnboardingError
from app.onboarding.models import ReviewComment
from app.onboarding.profile import (
    SECURITY_QUESTIONS,
    draft_bank_account,
    incomplete_sections,
    profile_of,
)
from app.onboarding.states import transition
from app.onboarding.tasks import SYNC_RETRY, sync_vendor, sync_vendor_job_id
from app.orgs.models import Organization, OrgKind, OrgStatus


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool
    detail: str
    blocking: bool = True


# -- submission --------------------------------------------------------------------------------


def submit(org: Organization, *, actor) -> None:
    """Hand a complete profile to procurement; suppliers are screened at this moment."""
    if missing := incomplete_sections(org):
        titles = ", ".join(s.title for s in missing)
        raise OnboardingError(f"Complete these sections before submitting: {titles}.")
    resolved = _resolve_comments(org)
    profile_of(org).submitted_at = utcnow()
    transition(org, OrgStatus.SUBMITTED, actor=actor, details={"comments_answered": resolved})
    if org.kind == OrgKind.SUPPLIER:
        screening.screen(org, actor=actor)


def _resolve_comments(org: Organization) -> int:
    comments = open_comments(org)
    for comment in comments:
        comment.resolved_at = utcnow()
    return len(comments)


def open_comments(org: Organization) -> list[ReviewComment]:
    query = (
        select(ReviewComment)
        .where(ReviewComment.organization_id == org.id, ReviewComment.resolved_at.is_(None))
        .order_by(ReviewComment.id)
    )
    return list(db.session.scalars(query))


def all_comments(org: Organization) -> list[ReviewComment]:
    query = (
        select(ReviewComment)
        .where(ReviewComment.organization_id == org.id)
        .order_by(ReviewComment.id.desc())
    )
    return list(db.session.scalars(query))


# -- the checks --------------------------------------------------------------------------------


def _profile_check(org: Organization) -> Check:
    missing = incomplete_sections(org)
    detail = (
        "All sections filled in."
        if not missing
        else "Incomplete: " + ", ".join(s.title for s in missing)
    )
    return Check("Profile complete", not missing, detail)


def _tax_check(org: Organization) -> Check:
    tax_id = profile_of(org).tax_id
    if not tax_id or not org.country:
        return Check("Tax ID valid", False, "No tax ID or country given.")
    try:
        checked = rules.validate_tax_id(org.country, tax_id)
    except FieldError as exc:
        return Check("Tax ID valid", False, exc.message)
    if not checked.validated:
        return Check(
            "Tax ID valid", True, f"No automatic validator for {org.country}: check by hand.", False
        )
    return Check("Tax ID valid", True, f"Valid ({checked.scheme}).")


def _bank_check(org: Organization) -> Check:
    account = draft_bank_account(org) or banking.active_account(org)
    if account is None:
        return Check("Bank account valid", False, "No bank account given.")
    try:
        rules.validate_bank(
            account.scheme.value,
            iban=account.iban or "",
            bic=account.bic or "",
            routing=account.routing_number or "",
            account=account.account_number or "",
        )
    except FieldError as exc:
        return Check("Bank account valid", False, exc.message)
    return Check("Bank account valid", True, f"Valid ({account.scheme.value}).")


def _documents_check(org: Organization) -> Check:
    problems = documents.missing_documents(org)
    detail = " ".join(problems) or "All required documents present and unexpired."
    return Check("Documents present and unexpired", not problems, detail)


def _screening_check(org: Organization) -> Check:
    latest = screening.latest(org)
    label = "Exclusion screening clear"
    if latest is None:
        return Check(label, False, "Not screened yet.")
    if latest.overridden_at is not None:
        return Check(label, True, f"Overridden: {latest.override_reason}")
    if latest.override_pending:
        return Check(
            label,
            False,
            f"Override proposed ({latest.override_reason}); "
            "a second procurement admin must confirm it.",
        )
    if latest.list_load_id is None:
        return Check(label, False, "No exclusion list is loaded, so screening could not run.")
    if latest.hits:
        names = "; ".join(f"{h['name']} (matched on {h['matched_on']})" for h in latest.hits)
        return Check(label, False, f"Possible match: {names}")
    return Check(label, True, "No match on name or tax ID.")


def _partner_checks(org: Organization) -> list[Check]:
    profile = profile_of(org)
    url_problem = rules.https_url_problem(profile.webhook_url or "")
    unknown = [s for s in profile.scopes_wanted if s not in SCOPES]
    answers = profile.security_answers or {}
    unanswered = [q for q in SECURITY_QUESTIONS if not answers.get(q)]
    return [
        Check(
            "Webhook endpoint uses https",
            url_problem is None,
            url_problem or profile.webhook_url or "",
        ),
        Check(
            "API scopes requested",
            bool(profile.scopes_wanted) and not unknown,
            ", ".join(profile.scopes_wanted) or "None requested.",
        ),
        Check(
            "Security questionnaire answered",
            not unanswered,
            "All answered." if not unanswered else "Unanswered: " + ", ".join(unanswered),
        ),
    ]


def checks(org: Organization) -> list[Check]:
    if org.kind == OrgKind.PARTNER:
        return [_profile_check(org), *_partner_checks(org)]
    return [
        _profile_check(org),
        _tax_check(org),
        _bank_check(org),
        _documents_check(org),
        _screening_check(org),
    ]


def blocking_failures(org: Organization) -> list[Check]:
    return [c for c in checks(org) if c.blocking and not c.ok]


# -- decisions ---------------------------------------------------------------------------------


def _require_submitted(org: Organization) -> None:
    # Two reviewers deciding at once take turns; the second sees the first one's decision.
    db.session.refresh(org, with_for_update=True)
    if org.status != OrgStatus.SUBMITTED:
        raise OnboardingError(
            f"Only a submitted profile can be reviewed (this one is {org.status.value})."
        )


def approve(org: Organization, scopes: Iterable[str], *, actor) -> None:
    """Approve once every check passes; a supplier then waits for its ERP vendor (a job)."""
    check_no_conflict(org, actor)
    _require_submitted(org)
    if failures := blocking_failures(org):
        raise OnboardingError(
            "Approval is blocked: " + "; ".join(f"{c.label}: {c.detail}" for c in failures)
        )
    granted = sorted(s for s in set(scopes) if s in SCOPES)
    before_scopes = list(org.approved_scopes or [])
    org.approved_scopes = granted
    details = {"approved_scopes": {"before": before_scopes, "after": granted}}
    transition(org, OrgStatus.APPROVED, actor=actor, details=details)
    if org.kind == OrgKind.PARTNER:
        transition(org, OrgStatus.ACTIVE, actor=actor, reason="partners need no ERP vendor")
        return
    banking.activate_draft(org, actor=actor)
    enqueue_vendor_sync(org)


def enqueue_vendor_sync(org: Organization) -> None:
    enqueue_after_commit(sync_vendor, org.id, job_id=sync_vendor_job_id(org.id), retry=SYNC_RETRY)


def retry_vendor_sync(org: Organization, *, actor) -> None:
    if org.status != OrgStatus.APPROVED:
        raise OnboardingError("Only an approved organization waits for its ERP vendor.")
    record("onboarding.vendor_sync_retried", actor=actor, organization_id=org.id, target=org)
    enqueue_vendor_sync(org)


def reject(org: Organization, reason: str, *, actor) -> None:
    check_no_conflict(org, actor)
    _require_submitted(org)
    if not reason.strip():
        raise OnboardingError("A reason is required to reject.")
    profile_of(org).decision_reason = reason.strip()
    transition(org, OrgStatus.REJECTED, actor=actor, reason=reason.strip())


def request_changes(org: Organization, comments: dict[str, str], *, actor) -> list[ReviewComment]:
    """Send the profile back with a comment per section; the organization resubmits."""
    check_no_conflict(org, actor)
    _require_submitted(org)
    valid = rules.section_keys(org.kind)
    given = {k: v.strip() for k, v in comments.items() if k in valid and v and v.strip()}
    if not given:
        raise OnboardingError("Write a comment for at least one section.")
    rows = [
        ReviewComment(organization_id=org.id, section=k, body=v, author_id=actor.id)
        for k, v in given.items()
    ]
    db.session.add_all(rows)
    titles = {s.key: s.title for s in rules.sections_for(org.kind)}
    summary = "\n".join(f"- {titles[k]}: {v}" for k, v in given.items())
    transition(
        org, OrgStatus.CHANGES_REQUESTED, actor=actor, reason=summary, details={"comments": given}
    )
    return rows
