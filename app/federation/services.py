"""Company sign-in use cases: configuring and approving identity providers, finding the provider
of an email, and turning verified claims into a portal user (link, just-in-time creation,
group-to-role mapping). Never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import User
from app.audit.services import record
from app.db import db, utcnow
from app.federation import rules
from app.federation.models import (
    IdentityProvider,
    IdentityProviderDomain,
    ProviderStatus,
    UserIdentity,
)
from app.lifecycle import Lifecycle
from app.orgs.models import Membership, Organization, OrgKind
from app.orgs.roles import ROLES_BY_ORG_KIND, Role

# Who configures an organization's provider: its own admin (the hospital's: procurement).
# Changing any of these sends an approved provider back to a procurement admin.
REVIEWED_FIELDS = frozenset(
    {"issuer", "client_id", "scopes", "groups_claim", "role_mapping", "jit_enabled", "jit_role"}
    | {"domains"}
)

REFUSALS = {
    "missing_email": (
        "No email address",
        "Your identity provider did not send an email address, so the portal cannot tell who "
        "you are. Ask your IT team to release the email claim to the portal.",
    ),
    "email_unverified": (
        "Email address not verified",
        "Your identity provider has not verified the email address {email}. The portal only "
        "accepts verified addresses; ask your IT team to verify it, then sign in again.",
    ),
    "domain_not_allowed": (
        "Email domain not allowed",
        "{email} is not in an email domain that {organization} lets sign in through "
        "{provider}. Sign in with an address of your company's domain.",
    ),
    "no_account": (
        "No portal account yet",
        "There is no portal account for {email}, and {organization} does not create accounts "
        "on first sign-in. Ask your administrator to invite you.",
    ),
    "other_organization": (
        "Account belongs to another organization",
        "The portal account for {email} belongs to another organization than {organization}, "
        "so it cannot sign in through {provider}.",
    ),
    "no_role": (
        "No portal role",
        "Your groups at {provider} do not give you any role in the portal. Ask your "
        "administrator to add you to one of the portal's groups.",
    ),
    "account_disabled": (
        "Account disabled",
        "Your portal account has been disabled. Contact your administrator.",
    ),
}


class ProviderConfigError(ValueError):
    """Settings that cannot be saved or approved; `field` names the form field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SignInRefusedError(Exception):
    """Verified claims that still may not sign in; `title` and `message` are for the person."""

    def __init__(
        self, reason: str, provider: IdentityProvider, claims: dict, user: User | None = None
    ):
        title, template = REFUSALS[reason]
        self.reason, self.title, self.user = reason, title, user
        self.message = template.format(
            email=claims.get("email") or "your account",
            organization=provider.organization.name,
            provider=provider.name,
        )
        super().__init__(self.message)


@dataclass(frozen=True)
class LinkRequired:
    """An account with the token's email exists: its password must be entered once."""

    user: User
    roles: list[str] | None  # from the group mapping, or None when the provider has none


@dataclass
class ProviderSettings:
    """What an organization admin sets on the provider form."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None  # None keeps the stored secret
    scopes: str
    groups_claim: str
    domains: list[str]
    role_mapping: dict[str, str] = field(default_factory=dict)
    jit_enabled: bool = False
    jit_role: Role | None = None
    sso_required: bool = False


# -- configuration ----------------------------------------------------------------------------
def providers_of(organization: Organization) -> list[IdentityProvider]:
    return list(
        db.session.scalars(
            select(IdentityProvider)
            .where(IdentityProvider.organization_id == organization.id)
            .order_by(IdentityProvider.name)
        )
    )


def provider_of(organization: Organization, provider_id: int) -> IdentityProvider | None:
    """The organization's own provider; another organization's id finds nothing."""
    return db.session.scalar(
        select(IdentityProvider).where(
            IdentityProvider.id == provider_id,
            IdentityProvider.organization_id == organization.id,
        )
    )


def save_provider(
    organization: Organization,
    settings: ProviderSettings,
    actor: User,
    provider: IdentityProvider | None = None,
) -> IdentityProvider:
    """Create or update a provider; a new one, or a change to what it trusts, needs approval."""
    _check_settings(organization, settings, provider)
    creating = provider is None
    if provider is None:
        # Born PENDING: nobody signs in through a provider a procurement admin has not seen.
        provider = IdentityProvider(organization=organization, status=ProviderStatus.PENDING)
        db.session.add(provider)
    changed = _apply(provider, settings)
    provider.changed_by_id = actor.id
    db.session.flush()
    action = "federation.provider_created" if creating else "federation.provider_updated"
    if creating or changed & REVIEWED_FIELDS:
        _send_to_review(provider, actor, action, sorted(changed))
    else:
        record(
            action,
            actor=actor,
            organization_id=organization.id,
            target=provider,
            details={"changed": sorted(changed), "status": provider.status.value},
        )
    return provider


def _check_settings(
    organization: Organization, settings: ProviderSettings, provider: IdentityProvider | None
) -> None:
    allowed = ROLES_BY_ORG_KIND[organization.kind.value]
    if provider is None and not settings.client_secret:
        raise ProviderConfigError("Enter the client secret.", "client_secret")
    if settings.jit_role is not None and settings.jit_role not in allowed:
        raise ProviderConfigError("That role is not available in your organization.", "jit_role")
    if organization.kind == OrgKind.BUYER and not settings.role_mapping:
        raise ProviderConfigError(
            "Staff roles come from your directory: map at least one group to a role.",
            "role_mapping",
        )
    if settings.jit_enabled and not (settings.jit_role or settings.role_mapping):
        raise ProviderConfigError("Choose the role that new accounts get.", "jit_role")
    if taken := _domains_claimed_elsewhere(settings.domains, provider):
        raise ProviderConfigError(
            f"Already claimed by another identity provider: {', '.join(taken)}.", "domains"
        )


def _domains_claimed_elsewhere(domains: list[str], provider: IdentityProvider | None) -> list[str]:
    query = select(IdentityProviderDomain.domain).where(IdentityProviderDomain.domain.in_(domains))
    if provider is not None and provider.id is not None:
        query = query.where(IdentityProviderDomain.provider_id != provider.id)
    return sorted(db.session.scalars(query))


def _apply(provider: IdentityProvider, settings: ProviderSettings) -> set[str]:
    """Copy the settings over; return the names of what changed."""
    changed = set()
    values = {
        "name": settings.name,
        "issuer": settings.issuer,
        "client_id": settings.client_id,
        "scopes": settings.scopes,
        "groups_claim": settings.groups_claim,
        "role_mapping": settings.role_mapping,
        "jit_enabled": settings.jit_enabled,
        "jit_role": settings.jit_role,
        "sso_required": settings.sso_required,
    }
    if settings.client_secret:
        values["client_secret"] = settings.client_secret
    for name, value in values.items():
        if getattr(provider, name, None) != value:
            setattr(provider, name, value)
            changed.add(name)
    if _replace_domains(provider, settings.domains):
        changed.add("domains")
    return changed


def _replace_domains(provider: IdentityProvider, domains: list[str]) -> bool:
    current = set(provider.domain_names)
    if current == set(domains):
        return False
    for row in [d for d in provider.domains if d.domain not in domains]:
        provider.domains.remove(row)
    for domain in sorted(set(domains) - current):
        provider.domains.append(IdentityProviderDomain(domain=domain))
    return True


def _send_to_review(
    provider: IdentityProvider, actor: User, action: str, changed: list[str]
) -> None:
    provider.approved_by_id, provider.approved_at, provider.review_note = None, None, None
    transition(
        provider,
        ProviderStatus.PENDING,
        actor=actor,
        action=action,
        details={"changed": changed, "status": ProviderStatus.PENDING.value},
    )


def approve(provider: IdentityProvider, actor: User) -> None:
    """A procurement admin approves; never the person whose change is being approved."""
    if not can_transition(provider.status, ProviderStatus.APPROVED):
        raise ProviderTransitionError(provider, ProviderStatus.APPROVED)
    if provider.changed_by_id == actor.id:
        raise ProviderConfigError("Another procurement admin must approve a change you made.")
    provider.approved_by_id, provider.approved_at = actor.id, utcnow()
    provider.review_note = None
    transition(
        provider,
        ProviderStatus.APPROVED,
        actor=actor,
        action="federation.provider_approved",
        details={"issuer": provider.issuer, "domains": provider.domain_names},
    )


def reject(provider: IdentityProvider, actor: User, note: str) -> None:
    provider.approved_by_id, provider.approved_at = None, None
    provider.review_note = note
    transition(
        provider,
        ProviderStatus.REJECTED,
        actor=actor,
        action="federation.provider_rejected",
        details={"note": note},
    )


# -- the provider's life cycle -----------------------------------------------------------------
# Identity providers call their life cycle `status` (ProviderStatus), like organizations and
# bank accounts; documents and tier requests call theirs `state`. A provider is born PENDING
# (`save_provider`); every change after that goes through `transition`, nowhere else.
P = ProviderStatus

ALLOWED: dict[ProviderStatus, frozenset[ProviderStatus]] = {
    # PENDING -> PENDING: settings changed again before anyone reviewed them.
    P.PENDING: frozenset({P.PENDING, P.APPROVED, P.REJECTED}),
    # An approved provider goes back to review when what it trusts changes, or is revoked.
    P.APPROVED: frozenset({P.PENDING, P.REJECTED}),
    # The review page offers both decisions again on a rejected provider (a new note, or a
    # change of mind), and the organization may fix its settings and resubmit.
    P.REJECTED: frozenset({P.PENDING, P.APPROVED, P.REJECTED}),
}


class ProviderTransitionError(ProviderConfigError):
    """A change of status the provider's life cycle does not allow."""

    def __init__(self, provider: IdentityProvider, to_status: ProviderStatus) -> None:
        if provider.status == to_status == ProviderStatus.APPROVED:
            message = "This provider is already approved."
        else:
            message = (
                f"An identity provider that is {provider.status.value} "
                f"cannot become {to_status.value}."
            )
        super().__init__(message)


PROVIDERS: Lifecycle[IdentityProvider, ProviderStatus] = Lifecycle(
    "status", ALLOWED, "federation.provider_", ProviderTransitionError, lambda p: p.organization_id
)


can_transition = PROVIDERS.can
# Audited as `federation.provider_<status>` unless the caller names the action.
transition = PROVIDERS.move


def record_test(provider: IdentityProvider, actor: User, error: str | None) -> None:
    provider.last_tested_at = utcnow()
    provider.last_test_error = error[:500] if error else None
    record(
        "federation.provider_tested",
        actor=actor,
        organization_id=provider.organization_id,
        target=provider,
        details={"ok": error is None, "error": error},
    )


# -- which provider ---------------------------------------------------------------------------
def provider_for_email(email: str) -> IdentityProvider | None:
    """Home-realm discovery: the approved provider of the organization owning the domain."""
    return db.session.scalar(
        select(IdentityProvider)
        .join(IdentityProviderDomain)
        .where(
            IdentityProviderDomain.domain == rules.email_domain(email),
            IdentityProvider.status == ProviderStatus.APPROVED,
        )
    )


def required_provider_for(user: User) -> IdentityProvider | None:
    """The approved provider through which the user's organization requires signing in."""
    org_ids = [m.organization_id for m in user.memberships]
    return db.session.scalar(
        select(IdentityProvider)
        .where(
            IdentityProvider.organization_id.in_(org_ids),
            IdentityProvider.status == ProviderStatus.APPROVED,
            IdentityProvider.sso_required.is_(True),
        )
        .order_by(IdentityProvider.id)
        .limit(1)
    )


def approved_provider(provider_id: int) -> IdentityProvider | None:
    provider = db.session.get(IdentityProvider, provider_id)
    return provider if provider is not None and provider.is_approved else None


# -- signing in -------------------------------------------------------------------------------
def sign_in_with_claims(provider: IdentityProvider, claims: dict[str, Any]) -> User | LinkRequired:
    """The portal user for verified claims: matched on (issuer, subject), never on email alone.

    A first sign-in creates the user just in time (verified email in an allowed domain, when
    the provider allows it) or asks for the existing account's password before linking."""
    identity = _identity(provider.issuer, claims["sub"])
    if identity is None:
        return _first_sign_in(provider, claims)
    user = identity.user
    _check_member(provider, user, claims)
    roles = _wanted_roles(provider, claims, user)
    if roles is not None:
        _apply_roles(provider, user, roles)
    identity.provider_id = provider.id
    identity.last_login_at = utcnow()
    return user


def _identity(issuer: str, subject: str) -> UserIdentity | None:
    return db.session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )


def _first_sign_in(provider: IdentityProvider, claims: dict[str, Any]) -> User | LinkRequired:
    plan = _plan_first_sign_in(provider, claims)
    if plan.existing is not None:
        roles = sorted(r.value for r in plan.roles) if plan.roles else None
        return LinkRequired(plan.existing, roles)
    return _provision(provider, claims, plan.email, plan.roles or set())


@dataclass(frozen=True)
class _FirstSignIn:
    """What a first sign-in through a provider will do: link `existing` (with the mapped roles,
    None when the provider maps no groups), or create an account for `email` with `roles`."""

    email: str
    existing: User | None
    roles: set[Role] | None


def _plan_first_sign_in(provider: IdentityProvider, claims: dict[str, Any]) -> _FirstSignIn:
    """Decide without changing anything (the sign-in and the admin's preview share it);
    SignInRefusedError when the claims may not sign in at all."""
    if reason := rules.email_refusal(claims, provider.domain_names):
        raise SignInRefusedError(reason, provider, claims)
    email = accounts.normalize_email(str(claims["email"]))
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is not None:
        _check_member(provider, existing, claims)
        return _FirstSignIn(email, existing, _wanted_roles(provider, claims, existing))
    if not provider.jit_enabled:
        raise SignInRefusedError("no_account", provider, claims)
    roles = _wanted_roles(provider, claims) or ({provider.jit_role} if provider.jit_role else set())
    if not roles:
        raise SignInRefusedError("no_role", provider, claims)
    return _FirstSignIn(email, None, roles)


def _check_member(provider: IdentityProvider, user: User, claims: dict[str, Any]) -> None:
    if not user.active:
        raise SignInRefusedError("account_disabled", provider, claims, user)
    if provider.organization_id not in {m.organization_id for m in user.memberships}:
        raise SignInRefusedError("other_organization", provider, claims, user)


def _wanted_roles(
    provider: IdentityProvider, claims: dict[str, Any], user: User | None = None
) -> set[Role] | None:
    """Roles from the groups claim, or None when the provider maps no groups."""
    if not provider.role_mapping:
        return None
    roles = rules.roles_for_groups(claims.get(provider.groups_claim), provider.role_mapping)
    if not roles:
        raise SignInRefusedError("no_role", provider, claims, user)
    return roles


def _apply_roles(provider: IdentityProvider, user: User, roles: set[Role]) -> None:
    """Make the user's roles in the provider's organization exactly `roles`."""
    mine = [m for m in user.memberships if m.organization_id == provider.organization_id]
    before = {m.role for m in mine}
    if before == roles:
        return
    for membership in mine:
        if membership.role not in roles:
            user.memberships.remove(membership)
    for role in sorted(roles - before):
        user.memberships.append(Membership(organization_id=provider.organization_id, role=role))
    db.session.flush()
    record(
        "federation.roles_synced",
        actor_label=f"sso:{provider.name}",
        organization_id=provider.organization_id,
        target=user,
        details={
            "before": sorted(r.value for r in before),
            "after": sorted(r.value for r in roles),
        },
    )


def _provision(
    provider: IdentityProvider, claims: dict[str, Any], email: str, roles: set[Role]
) -> User:
    first, *others = sorted(roles)
    name = str(claims.get("name") or "")[:200]
    user = accounts.create_user(email, None, provider.organization, first, name=name)
    for role in others:
        user.memberships.append(Membership(organization_id=provider.organization_id, role=role))
    _link(provider, user, claims["sub"])
    record(
        "federation.user_provisioned",
        actor_label=f"sso:{provider.name}",
        organization_id=provider.organization_id,
        target=user,
        details={"email": email, "roles": sorted(r.value for r in roles)},
    )
    return user


def _link(provider: IdentityProvider, user: User, subject: str) -> UserIdentity:
    identity = UserIdentity(
        user_id=user.id,
        provider_id=provider.id,
        issuer=provider.issuer,
        subject=subject,
        last_login_at=utcnow(),
    )
    db.session.add(identity)
    db.session.flush()
    record(
        "federation.identity_linked",
        actor=user,
        organization_id=provider.organization_id,
        target=user,
        details={"issuer": provider.issuer, "subject": subject, "provider_id": provider.id},
    )
    return identity


def confirm_link(
    provider: IdentityProvider, user: User, subject: str, roles: list[str] | None
) -> None:
    """The person proved the existing account is theirs: link it and apply the mapped roles."""
    if _identity(provider.issuer, subject) is None:
        _link(provider, user, subject)
    if roles is not None:
        _apply_roles(provider, user, {Role(r) for r in roles})


def identities_of(user: User) -> list[UserIdentity]:
    return list(db.session.scalars(select(UserIdentity).where(UserIdentity.user_id == user.id)))


def preview_sign_in(provider: IdentityProvider, claims: dict[str, Any]) -> tuple[bool, str]:
    """What signing in with these claims would do, without doing it (the admin's test)."""
    try:
        identity = _identity(provider.issuer, str(claims.get("sub")))
        if identity is not None:
            _check_member(provider, identity.user, claims)
            roles = _wanted_roles(provider, claims, identity.user)
            return True, f"Signs in as {identity.user.email}{_roles_text(roles)}."
        outcome = _preview_first(provider, claims)
    except SignInRefusedError as refusal:
        return False, f"Refused: {refusal.message}"
    return True, outcome


def _preview_first(provider: IdentityProvider, claims: dict[str, Any]) -> str:
    plan = _plan_first_sign_in(provider, claims)
    if plan.existing is not None:
        return (
            f"Asks for the password of {plan.email} once, then links it{_roles_text(plan.roles)}."
        )
    return f"Creates the account {plan.email}{_roles_text(plan.roles)}."


def _roles_text(roles: set[Role] | None) -> str:
    if not roles:
        return ""
    return " with the role(s) " + ", ".join(sorted(r.value for r in roles))
