"""The role check every view uses, and what a role may see in the navigation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort
from flask_login import current_user, login_required

from app.orgs.roles import Role


def require_role(*roles: Role) -> Callable:
    """Signed in and holding one of `roles`, or 403; `require_role()` only needs a session."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if roles and not current_user.has_role(*roles):
                abort(403, "Your role does not give access to this page.")
            return view(*args, **kwargs)

        wrapper.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorator


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[Role]


NAVIGATION = (
    NavItem(
        "Purchase orders",
        "suppliers.purchase_orders",
        frozenset({Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN}),
    ),
    NavItem(
        "Documents",
        "intake.documents",
        frozenset({Role.SUPPLIER_USER, Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}),
    ),
    NavItem("Team", "suppliers.team", frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN})),
    NavItem(
        "API clients",
        "api_clients.list_clients",
        frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}),
    ),
    NavItem(
        "Webhooks", "webhooks.list_endpoints", frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN})
    ),
    NavItem(
        "Held invoices",
        "holds.queue",
        frozenset({Role.FINANCE_CLERK, Role.FINANCE_MANAGER}),
    ),
    NavItem(
        "Tolerances",
        "tolerances.index",
        frozenset({Role.FINANCE_CLERK, Role.FINANCE_MANAGER}),
    ),
    NavItem(
        "PO & receipts lookup",
        "finance.purchase_orders",
        frozenset({Role.FINANCE_CLERK, Role.FINANCE_MANAGER, Role.PROCUREMENT_ADMIN}),
    ),
    NavItem("Organizations", "admin.organizations", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem("Acknowledgments", "acknowledgments.index", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem(
        "Company profile",
        "onboarding.my_profile",
        frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}),
    ),
    NavItem(
        "Connections",
        "onboarding.my_connections",
        frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}),
    ),
    NavItem("Onboarding queue", "onboarding_admin.queue", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem("Invitations", "onboarding_admin.invitations", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem("API usage", "throttling.usage", frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN})),
    NavItem("API tiers", "throttling.tiers", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem(
        "Company sign-in",
        "federation.providers",
        frozenset({Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN}),
    ),
    NavItem("Identity providers", "federation.review", frozenset({Role.PROCUREMENT_ADMIN})),
    NavItem("Users", "admin.users", frozenset({Role.PROCUREMENT_ADMIN, Role.OPS})),
    NavItem("Pipeline", "ops.console_page", frozenset({Role.OPS})),
    NavItem("Find a document", "ops.find_document", frozenset({Role.OPS})),
    NavItem("System health", "ops.health_page", frozenset({Role.OPS})),
    NavItem(
        "Audit log",
        "ops.audit_log",
        frozenset({Role.OPS, Role.PROCUREMENT_ADMIN, Role.FINANCE_MANAGER}),
    ),
)


def navigation_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return [item for item in NAVIGATION if user.has_role(*item.roles)]
