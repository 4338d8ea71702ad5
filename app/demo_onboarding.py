"""Demo suppliers made through the onboarding services, so that every record is what the portal
itself would have kept: profiles saved section by section (tax id and bank details encrypted),
supporting documents checked and stored, screenings run against the loaded exclusion list,
decisions taken by the demo procurement admin, each one audited.

The ERP's vendors (app.erp.mock.catalog) become ACTIVE suppliers whose tax id and bank account
are the ERP's own, so their invoices match and no BANK_DETAILS hold is raised. Made-up
companies show the other onboarding states: a draft, a submitted profile (one clear, one that
screening flagged), changes requested, approved and waiting for its ERP vendor, rejected,
suspended, and an invitation nobody has accepted yet.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from pypdf import PdfWriter
from sqlalchemy import select

from app.accounts.models import User
from app.db import db, utcnow
from app.erp.mock.catalog import VendorSeed
from app.onboarding import banking, documents, enrollment, profile, review, rules, suspension
from app.onboarding.models import Enrollment, SupportingDocumentKind
from app.onboarding.states import transition
from app.onboarding.steps import payment_terms
from app.orgs.models import Organization, OrgKind, OrgStatus


@dataclass(frozen=True)
class Company:
    """What a supplier's people type into the profile wizard."""

    name: str
    country: str
    email_domain: str
    tax_id: str
    street: str
    city: str
    region: str
    postal_code: str
    bank_name: str
    scheme: str  # "US_ABA" or "IBAN"
    bank_code: str  # routing number or BIC
    account: str  # account number or IBAN
    currency: str = "USD"
    erp_vendor_number: str | None = None


def from_vendor(vendor: VendorSeed) -> Company:
    """A supplier the ERP knows: its profile repeats the ERP's vendor record."""
    remit = vendor.remit_to
    return Company(
        vendor.name, vendor.country, vendor.email_domain, vendor.tax_id, vendor.street,
        vendor.city, vendor.region, vendor.postal_code, remit.bank_name, remit.scheme,
        remit.bank_code, remit.account, vendor.currency, vendor.number,
    )  # fmt: skip


@dataclass(frozen=True)
class Story:
    """A made-up supplier stopped at one onboarding state, and why."""

    company: Company
    status: OrgStatus
    reason: str = ""
    # Sections filled in (all of them when None); a draft stops part way.
    sections: tuple[str, ...] | None = None
    comments: dict[str, str] = field(default_factory=dict)


# fmt: off
STORIES: tuple[Story, ...] = (
    Story(
        Company("Cedar Point Medical Textiles LLC", "US", "cedarpointtextiles.example", "84-3172605",
                "410 Mill Race Rd", "Sandusky", "OH", "44870", "Lake Erie Savings", "US_ABA",
                "291077457", "5520193348"),
        OrgStatus.DRAFT, sections=("company", "tax", "addresses"),
    ),
    Story(
        Company("Harbor Light Diagnostics Inc.", "US", "harborlightdx.example", "61-2948373",
                "77 Wharf St", "Erie", "PA", "16507", "Presque Isle Bank", "US_ABA",
                "263091283", "7310458821"),
        OrgStatus.SUBMITTED,
    ),
    # On the demo exclusion list (app/onboarding/demo_exclusions.csv): screening flags it.
    Story(
        Company("Shady Surgical Supply LLC", "US", "shadysurgical.example", "93-4410268",
                "12 Harbor St", "Miami", "FL", "33101", "Biscayne Commerce Bank", "US_ABA",
                "064582179", "4412087763"),
        OrgStatus.SUBMITTED,
    ),
    Story(
        Company("Pinecrest Respiratory Supply Co.", "US", "pinecrestrespiratory.example",
                "45-5839124", "2300 Pinecrest Ave", "Grand Rapids", "MI", "49503",
                "Lakeshore Federal", "US_ABA", "314270937", "9034471126"),
        OrgStatus.CHANGES_REQUESTED,
        comments={
            "documents": "The certificate of insurance names another company; upload yours.",
            "addresses": "Payments go to a lockbox: give the lockbox as the remit-to address.",
        },
    ),
    # Keystone's own EIN: the ERP finds Keystone's vendor, which another portal organization
    # already holds, so the vendor job refuses to link it and procurement must look.
    Story(
        Company("Keystone Orthopedic Implants Midwest LLC", "US", "keystone-midwest.example",
                "46-2530829", "9100 Keystone Crossing", "Indianapolis", "IN", "46240",
                "First Hoosier Bank", "US_ABA", "221736409", "6620914458"),
        OrgStatus.APPROVED,
    ),
    Story(
        Company("QuickFix Medical Devices Inc.", "US", "quickfixmedical.example", "81-3357712",
                "400 Main St", "Newark", "NJ", "07102", "Garden State Trust", "US_ABA",
                "291077457", "1184420937"),
        OrgStatus.REJECTED,
        reason="Excluded from federal health care programs (OIG LEIE, 1128(b)(7)); "
               "we cannot buy from an excluded party.",
    ),
)
# fmt: on
INVITATION = ("Great Plains Infusion Services", "Dana Infusion", "dana@greatplainsinfusion.example")
SUSPENSION_REASON = "FDA Class I recall of a stent delivery system: orders paused pending review."


# -- the profile, step by step -----------------------------------------------------------------


def fill_profile(org: Organization, company: Company, *, actor, sections=None) -> None:
    """Save each section (all by default) as the wizard would, with the same validators."""
    wanted = set(sections or rules.section_keys(OrgKind.SUPPLIER))
    if "company" in wanted:
        profile.save_section(org, "company", {"country": company.country}, actor=actor)
    if "tax" in wanted:
        checked = rules.validate_tax_id(company.country, company.tax_id)
        values = {"tax_id": checked.value, "tax_id_scheme": checked.scheme}
        profile.save_section(org, "tax", values, actor=actor)
    if "addresses" in wanted:
        address: dict[str, str] = {
            "street": company.street,
            "city": company.city,
            "region": company.region,
            "postal_code": company.postal_code,
            "country": company.country,
        }
        addresses = {"ordering_address": address, "remit_address": dict(address)}
        profile.save_section(org, "addresses", addresses, actor=actor)
    if "contacts" in wanted:
        profile.save_section(org, "contacts", {"contacts": _contacts(company)}, actor=actor)
    if "payment" in wanted:
        profile.accept_payment_terms(org, payment_terms(), company.currency, actor=actor)
    if "bank" in wanted:
        banking.save_draft(org, company.name, company.bank_name, _bank(company), actor=actor)
    if "documents" in wanted:
        _documents(org, actor)


def _contacts(company: Company) -> dict[str, dict[str, str]]:
    return {
        "primary": {"name": "Supplier Admin", "email": f"admin@{company.email_domain}"},
        "accounts_receivable": {
            "name": "Accounts Receivable",
            "email": f"ap@{company.email_domain}",
        },
    }


def _bank(company: Company) -> rules.BankDetails:
    if company.scheme == "IBAN":
        return rules.validate_bank("IBAN", iban=company.account, bic=company.bank_code)
    return rules.validate_bank("US_ABA", routing=company.bank_code, account=company.account)


def _pdf() -> bytes:
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.write(out)
    return out.getvalue()


def _documents(org: Organization, actor) -> None:
    a_year_on = utcnow().date() + dt.timedelta(days=365)
    body = _pdf()
    for kind in rules.required_documents(org.country):
        expires = a_year_on if kind == SupportingDocumentKind.INSURANCE else None
        name = f"{kind.value.lower()}.pdf"
        documents.store(org, kind, name, io.BytesIO(body), expires_on=expires, actor=actor)


# -- decisions ---------------------------------------------------------------------------------


def onboard_vendor(org: Organization, company: Company, *, admin: User, reviewer: User) -> None:
    """A supplier the ERP already has: profile, submission (screened), approval, and the link
    to its ERP vendor that the vendor job makes (done here, so the demo needs no worker)."""
    fill_profile(org, company, actor=admin)
    review.submit(org, actor=admin)
    review.approve(org, org.approved_scopes or [], actor=reviewer)
    link_vendor(org, company)


def link_vendor(org: Organization, company: Company) -> None:
    org.erp_vendor_number = company.erp_vendor_number
    transition(
        org,
        OrgStatus.ACTIVE,
        actor=None,
        reason="linked to the existing ERP vendor",
        details={"erp_vendor_number": company.erp_vendor_number, "created": False},
    )


def play(story: Story, org: Organization, *, admin: User, reviewer: User, scopes) -> None:
    """Take a new organization (DRAFT) as far as its story goes, through the real services."""
    fill_profile(org, story.company, actor=admin, sections=story.sections)
    if story.status == OrgStatus.DRAFT:
        return
    review.submit(org, actor=admin)
    if story.status == OrgStatus.CHANGES_REQUESTED:
        review.request_changes(org, story.comments, actor=reviewer)
    elif story.status == OrgStatus.REJECTED:
        review.reject(org, story.reason, actor=reviewer)
    elif story.status == OrgStatus.APPROVED:
        review.approve(org, scopes, actor=reviewer)


def suspend(org: Organization, *, reviewer: User) -> None:
    if org.status == OrgStatus.ACTIVE:
        suspension.suspend(org, SUSPENSION_REASON, actor=reviewer)


def invite_once(*, reviewer: User) -> None:
    company, contact, email = INVITATION
    exists = db.session.scalar(select(Enrollment.id).where(Enrollment.email == email))
    if exists is None and not enrollment.organization_name_taken(company):
        enrollment.invite(email, company, OrgKind.SUPPLIER, contact, actor=reviewer)
