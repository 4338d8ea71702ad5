"""The roles a membership can carry, and which organization kinds may hold them."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    SUPPLIER_USER = "supplier_user"
    SUPPLIER_ADMIN = "supplier_admin"
    PARTNER_ADMIN = "partner_admin"
    FINANCE_CLERK = "finance_clerk"
    FINANCE_MANAGER = "finance_manager"
    PROCUREMENT_ADMIN = "procurement_admin"
    OPS = "ops"


SUPPLIER_ROLES = frozenset({Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN})
PARTNER_ROLES = frozenset({Role.PARTNER_ADMIN})
FINANCE_ROLES = frozenset({Role.FINANCE_CLERK, Role.FINANCE_MANAGER})
STAFF_ROLES = frozenset({*FINANCE_ROLES, Role.PROCUREMENT_ADMIN, Role.OPS})

# A role only makes sense inside an organization of the matching kind.
ROLES_BY_ORG_KIND = {
    "supplier": SUPPLIER_ROLES,
    "partner": PARTNER_ROLES,
    "buyer": STAFF_ROLES,
}


def role_allowed_for(role: Role, org_kind: str) -> bool:
    return role in ROLES_BY_ORG_KIND.get(org_kind, frozenset())
