"""Who is told about an onboarding event, by mail: the organization's admins and procurement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import mail
from app.accounts.models import User
from app.db import db
from app.orgs.models import Membership, Organization
from app.orgs.roles import Role

ORG_ADMIN_ROLES = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)


def org_admin_emails(org: Organization) -> list[str]:
    query = (
        select(User.email)
        .join(Membership)
        .where(
            Membership.organization_id == org.id,
            Membership.role.in_(ORG_ADMIN_ROLES),
            User.active.is_(True),
        )
        .order_by(User.email)
    )
    return list(db.session.scalars(query))


def procurement_emails() -> list[str]:
    query = (
        select(User.email)
        .join(Membership)
        .where(Membership.role == Role.PROCUREMENT_ADMIN, User.active.is_(True))
        .order_by(User.email)
    )
    return list(db.session.scalars(query).unique())


def tell_org(org: Organization, subject: str, template: str, **context: Any) -> None:
    mail.send(org_admin_emails(org), subject, template, org=org, **context)


def tell_procurement(org: Organization, subject: str, template: str, **context: Any) -> None:
    mail.send(procurement_emails(), subject, template, org=org, **context)
