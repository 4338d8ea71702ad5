"""Pure rules of company sign-in: which emails, domains, issuers and group mappings are acceptable.

No Flask, no database: every function here is tested on plain values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from app.orgs.roles import Role

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class RuleError(ValueError):
    """A setting or claim that breaks a rule; the message is written for the person who sees it."""


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def normalize_domain(value: str) -> str:
    """A bare email domain ("acme.example"), validated the way email addresses are."""
    candidate = value.strip().lower().removeprefix("@")
    try:
        checked = validate_email(f"check@{candidate}", check_deliverability=False)
    except EmailNotValidError:
        raise RuleError(f"{value.strip()!r} is not an email domain.") from None
    return checked.domain


def parse_domains(text: str) -> list[str]:
    """Domains from a textarea: one per line or separated by commas; at least one."""
    raw = [part for line in text.splitlines() for part in line.split(",") if part.strip()]
    domains = sorted({normalize_domain(part) for part in raw})
    if not domains:
        raise RuleError("Name at least one email domain.")
    return domains


def parse_role_mapping(text: str, allowed: Iterable[Role]) -> dict[str, str]:
    """Lines of `group = role`; roles must be ones the organization's kind can hold."""
    allowed_values = {role.value for role in allowed}
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        group, sep, role = (part.strip() for part in line.rpartition("="))
        if not sep or not group or not role:
            raise RuleError(f"Line {number}: write it as `group = role`.")
        if role not in allowed_values:
            raise RuleError(
                f"Line {number}: {role!r} is not a role here; use one of "
                f"{', '.join(sorted(allowed_values))}."
            )
        mapping[group] = role
    return mapping


def format_role_mapping(mapping: Mapping[str, str]) -> str:
    return "\n".join(f"{group} = {role}" for group, role in sorted(mapping.items()))


def roles_for_groups(groups: object, mapping: Mapping[str, str]) -> set[Role]:
    """The roles the `groups` claim maps to; a single string counts as one group."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return set()
    return {Role(mapping[g]) for g in groups if isinstance(g, str) and g in mapping}


def check_issuer(url: str, *, allow_loopback: bool = False) -> str:
    """An issuer is an https URL without query or fragment.

    The portal fetches the issuer's discovery document from the server, so an issuer may not
    name a private, link-local or (outside development and tests) loopback address: an admin
    must not be able to make the portal call its own internal services."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise RuleError("The issuer must be a full URL such as https://login.example.com.")
    if parts.query or parts.fragment:
        raise RuleError("The issuer has no query string or fragment.")
    loopback = _is_loopback(parts.hostname)
    if loopback and not allow_loopback:
        raise RuleError("The issuer cannot be on this server (localhost).")
    if not loopback and _is_internal_address(parts.hostname):
        raise RuleError("The issuer must be reachable on the internet, not a private address.")
    if parts.scheme == "http" and not loopback:
        raise RuleError("The issuer must use https (plain http is allowed only on localhost).")
    return url


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_internal_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name; it is resolved when the portal calls it
    return address.is_private or address.is_link_local or address.is_reserved


def check_scopes(text: str) -> str:
    scopes = text.split()
    if "openid" not in scopes:
        raise RuleError("The scopes must include openid.")
    return " ".join(dict.fromkeys(scopes))


def email_is_verified(claims: Mapping[str, object]) -> bool:
    """`email_verified` (some providers send the string "true"), or Entra ID's optional
    `xms_edov` claim: Entra sends no email_verified, and documents xms_edov as "the email
    domain's owner has been verified" for exactly this use."""
    truthy = (True, "true", "1", 1)
    return claims.get("email_verified") in truthy or claims.get("xms_edov") in truthy


def email_refusal(claims: Mapping[str, object], allowed_domains: Iterable[str]) -> str | None:
    """Why a token's email cannot create or link an account, or None when it can."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return "missing_email"
    if not email_is_verified(claims):
        return "email_unverified"
    if email_domain(email) not in set(allowed_domains):
        return "domain_not_allowed"
    return None
