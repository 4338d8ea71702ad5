"""Demo organizations and users of every role, in step with the mock ERP's vendor master."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app import demo_onboarding
from app.accounts import services as accounts
from app.accounts.models import User
from app.db import db
from app.demo_documents import seed_invoices
from app.demo_onboarding import STORIES, Company, from_vendor
from app.erp.mock.catalog import NETWORK_NAME, VENDORS
from app.oauth import services as oauth
from app.oauth.models import ApiClient
from app.oauth.scopes import SCOPES, SUPPLIER_DEFAULT_SCOPES
from app.orgs.models import (
    Connection,
    ConnectionScope,
    Membership,
    Organization,
    OrgKind,
    OrgStatus,
)
from app.orgs.roles import Role
from app.webhooks.demo import seed_webhooks

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed on purpose for the demo
BUYER_DOMAIN = "hospital.example"
DEMO_SUPPLIERS = 5  # the first vendors of the ERP catalogue get portal organizations
PARTNER_NAME = "MedLink Supplier Network"
# What onboarding would have approved: suppliers everything but webhooks, the partner all.
SUPPLIER_SCOPES = sorted(SUPPLIER_DEFAULT_SCOPES)
PARTNER_SCOPES = sorted(SCOPES)
CONNECTED_SUPPLIERS = 2  # the partner acts for the first two demo suppliers
PARTNER_SENDS_FOR = 1  # and sends the second one's invoices through its API client
PARTNER_CLIENT_NAME = "MedLink invoice bridge"
# An ERP vendor whose portal organization procurement suspended (after it was active).
SUSPENDED_VENDOR = VENDORS[6]
# The made-up suppliers whose admins can sign in to see the profile wizard from their side.
STORY_LOGINS = {
    OrgStatus.DRAFT: "profile in draft",
    OrgStatus.SUBMITTED: "profile submitted",
    OrgStatus.CHANGES_REQUESTED: "changes requested",
}

STAFF = (
    ("finance.clerk", Role.FINANCE_CLERK, "Fran Clerk"),
    ("finance.manager", Role.FINANCE_MANAGER, "Morgan Manager"),
    ("procurement", Role.PROCUREMENT_ADMIN, "Pat Procurement"),
    ("ops", Role.OPS, "Olive Ops"),
)


def demo_accounts() -> list[tuple[str, str, str]]:
    """(email, role, organization) of every demo user, in the order the banner prints them."""
    accounts = [(f"{local}@{BUYER_DOMAIN}", role.value, NETWORK_NAME) for local, role, _ in STAFF]
    for vendor in VENDORS[:DEMO_SUPPLIERS]:
        accounts.append((f"admin@{vendor.email_domain}", Role.SUPPLIER_ADMIN.value, vendor.name))
        accounts.append((f"ap@{vendor.email_domain}", Role.SUPPLIER_USER.value, vendor.name))
    accounts.append(("admin@medlink.example", Role.PARTNER_ADMIN.value, PARTNER_NAME))
    seen: set[OrgStatus] = set()
    for story in STORIES:
        if story.status in STORY_LOGINS and story.status not in seen:
            seen.add(story.status)
            note = f"{story.company.name} ({STORY_LOGINS[story.status]})"
            accounts.append((_admin_email(story.company), Role.SUPPLIER_ADMIN.value, note))
    return accounts


def _admin_email(company: Company) -> str:
    return f"admin@{company.email_domain}"


def demo_logins() -> list[tuple[str, str]]:
    """(email, role) of every demo user, in the order the banner prints them."""
    return [(email, role) for email, role, _ in demo_accounts()]


ROLE_LABELS = {
    Role.SUPPLIER_USER: "supplier user",
    Role.SUPPLIER_ADMIN: "supplier admin",
    Role.PARTNER_ADMIN: "partner admin",
    Role.FINANCE_CLERK: "finance clerk",
    Role.FINANCE_MANAGER: "finance manager",
    Role.PROCUREMENT_ADMIN: "procurement admin",
    Role.OPS: "integration ops",
}


def login_lines() -> list[str]:
    """One line per demo login: its role, email and organization (for `make run`)."""
    return [
        f"{ROLE_LABELS[Role(role)]:<18} {email:<34} {organization}"
        for email, role, organization in demo_accounts()
    ]


def _existing(name: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.name == name))


def _org(name: str, kind: OrgKind, **fields) -> Organization:
    org = _existing(name)
    if org is None:
        org = Organization(name=name, kind=kind, status=OrgStatus.ACTIVE, **fields)
        db.session.add(org)
        db.session.flush()
    return org


def _user(email: str, org: Organization, role: Role, name: str) -> int:
    if db.session.scalar(select(User.id).where(User.email == email)):
        return 0
    accounts.create_user(email, DEMO_PASSWORD, org, role, name=name)
    return 1


def seed_demo() -> int:
    """Create what is missing and return how many users were new (safe to run again)."""
    created = 0
    buyer = _org(NETWORK_NAME, OrgKind.BUYER, country="US")
    for local, role, name in STAFF:
        created += _user(f"{local}@{BUYER_DOMAIN}", buyer, role, name)
    procurement = _staff(Role.PROCUREMENT_ADMIN)
    _load_demo_exclusions()  # first: every supplier is screened when its profile is submitted
    suppliers = []
    for vendor in VENDORS[:DEMO_SUPPLIERS]:
        org, new = _supplier(from_vendor(vendor))
        created += new
        if org.status == OrgStatus.DRAFT:
            demo_onboarding.onboard_vendor(
                org, from_vendor(vendor), admin=_admin(org), reviewer=procurement
            )
        suppliers.append(org)
    created += _seed_onboarding_states(procurement)
    partner = _org(PARTNER_NAME, OrgKind.PARTNER, country="US", approved_scopes=PARTNER_SCOPES)
    created += _user("admin@medlink.example", partner, Role.PARTNER_ADMIN, "Partner Admin")
    for supplier in suppliers[:CONNECTED_SUPPLIERS]:
        _connect(partner, supplier)
    client = _partner_client(partner)
    seed_invoices(suppliers, via={suppliers[PARTNER_SENDS_FOR].id: client})
    seed_webhooks(partner)  # after the invoices: the demo log is history, not their events
    return created


def _staff(role: Role) -> User:
    local = next(local for local, staff_role, _ in STAFF if staff_role == role)
    return db.session.scalars(select(User).where(User.email == f"{local}@{BUYER_DOMAIN}")).one()


def _admin(org: Organization) -> User:
    return db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org.id, Membership.role == Role.SUPPLIER_ADMIN)
        .order_by(User.id)
        .limit(1)
    ).one()


def _supplier(company: Company) -> tuple[Organization, int]:
    """The supplier's organization and its two users; a new one starts as a DRAFT, the way
    an enrolled company does, and answers how many users were new."""
    org = _existing(company.name)
    if org is None:
        org = Organization(
            name=company.name,
            kind=OrgKind.SUPPLIER,
            status=OrgStatus.DRAFT,
            approved_scopes=SUPPLIER_SCOPES,
        )
        db.session.add(org)
        db.session.flush()
    created = _user(f"admin@{company.email_domain}", org, Role.SUPPLIER_ADMIN, "Supplier Admin")
    created += _user(f"ap@{company.email_domain}", org, Role.SUPPLIER_USER, "Accounts Receivable")
    return org, created


def _seed_onboarding_states(procurement: User) -> int:
    """Suppliers in every other onboarding state, and an invitation not yet accepted."""
    created = 0
    for story in STORIES:
        org, new = _supplier(story.company)
        created += new
        if org.status == OrgStatus.DRAFT and new:
            demo_onboarding.play(
                story, org, admin=_admin(org), reviewer=procurement, scopes=SUPPLIER_SCOPES
            )
    suspended, new = _supplier(from_vendor(SUSPENDED_VENDOR))
    created += new
    if suspended.status == OrgStatus.DRAFT:
        company = from_vendor(SUSPENDED_VENDOR)
        demo_onboarding.onboard_vendor(
            suspended, company, admin=_admin(suspended), reviewer=procurement
        )
        demo_onboarding.suspend(suspended, reviewer=procurement)
    demo_onboarding.invite_once(reviewer=procurement)
    return created


# A small list in the OIG LEIE layout with made-up names, so screening runs for real in the demo:
# a new supplier passes, one registered as "Shady Surgical Supply LLC" is flagged.
DEMO_EXCLUSIONS = Path(__file__).parent / "onboarding" / "demo_exclusions.csv"


def _load_demo_exclusions() -> None:
    """Load the demo exclusion list when none is loaded yet (a real one is never replaced)."""
    from app.onboarding.models import ExclusionListLoad
    from app.onboarding.screening import load_list

    if db.session.scalar(select(ExclusionListLoad.id).limit(1)) is None:
        with DEMO_EXCLUSIONS.open(newline="", encoding="utf-8") as stream:
            load_list(stream, DEMO_EXCLUSIONS.name)


def _partner_client(partner: Organization) -> ApiClient:
    """The partner's API client, made as its admin makes one; the secret is shown once, so
    nobody has it: the partner admin rotates it to get one (the demo prints none)."""
    client = db.session.scalar(
        select(ApiClient).where(ApiClient.organization_id == partner.id).limit(1)
    )
    if client is None:
        admin = db.session.scalars(select(User).where(User.email == "admin@medlink.example")).one()
        client, _ = oauth.create_client(partner, PARTNER_CLIENT_NAME, PARTNER_SCOPES, actor=admin)
    return client


def _connect(partner: Organization, supplier: Organization) -> None:
    exists = db.session.scalar(
        select(Connection.id).where(
            Connection.partner_id == partner.id, Connection.supplier_id == supplier.id
        )
    )
    if exists is None:
        db.session.add(
            Connection(
                partner=partner,
                supplier=supplier,
                document_types=[t.value for t in ConnectionScope],
            )
        )
