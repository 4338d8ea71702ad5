"""The pure rules of company sign-in, on plain values."""

from __future__ import annotations

import pytest

from app.federation import rules
from app.orgs.roles import STAFF_ROLES, SUPPLIER_ROLES, Role

pytestmark = pytest.mark.no_db


@pytest.fixture
def _db_transaction() -> None:
    """Overrides the suite's autouse database fixture: pure rules need no database."""


@pytest.fixture
def _clean_redis() -> None:
    """Overrides the suite's autouse Redis fixture."""


def test_domains_are_normalized_and_deduplicated():
    assert rules.parse_domains("Acme.example\n@acme.example, eu.acme.example\n") == [
        "acme.example",
        "eu.acme.example",
    ]


@pytest.mark.parametrize("text", ["", "   \n", "not a domain", "acme", "http://acme.example"])
def test_bad_domain_lists_are_refused(text):
    with pytest.raises(rules.RuleError):
        rules.parse_domains(text)


def test_role_mapping_reads_group_equals_role_lines():
    text = "# AP team\nAP Clerks = finance_clerk\n\ncn=ap-managers,ou=groups = finance_manager\n"
    assert rules.parse_role_mapping(text, STAFF_ROLES) == {
        "AP Clerks": "finance_clerk",
        "cn=ap-managers,ou=groups": "finance_manager",
    }


def test_role_mapping_refuses_roles_of_another_kind_of_organization():
    with pytest.raises(rules.RuleError, match="Line 1: 'ops' is not a role here"):
        rules.parse_role_mapping("admins = ops", SUPPLIER_ROLES)
    with pytest.raises(rules.RuleError, match="Line 2: write it as"):
        rules.parse_role_mapping("a = supplier_user\njust-a-group", SUPPLIER_ROLES)


def test_groups_map_to_roles_and_unknown_groups_are_ignored():
    mapping = {"ap": "finance_clerk", "ap-lead": "finance_manager"}
    assert rules.roles_for_groups(["ap", "other"], mapping) == {Role.FINANCE_CLERK}
    assert rules.roles_for_groups("ap-lead", mapping) == {Role.FINANCE_MANAGER}
    assert rules.roles_for_groups(None, mapping) == set()
    assert rules.roles_for_groups({"ap": True}, mapping) == set()


@pytest.mark.parametrize(
    "issuer", ["https://acme.okta.com", "https://login.microsoftonline.com/t/v2.0"]
)
def test_acceptable_issuers(issuer):
    assert rules.check_issuer(issuer) == issuer


def test_a_local_provider_is_only_for_development_and_tests():
    assert rules.check_issuer("http://127.0.0.1:9", allow_loopback=True) == "http://127.0.0.1:9"
    with pytest.raises(rules.RuleError, match="cannot be on this server"):
        rules.check_issuer("http://localhost:6379")


@pytest.mark.parametrize(
    ("issuer", "why"),
    [
        ("http://sso.acme.example", "must use https"),
        ("https://sso.acme.example/?tenant=1", "no query string"),
        ("sso.acme.example", "full URL"),
        ("https://169.254.169.254/latest", "not a private address"),
        ("https://10.0.0.8", "not a private address"),
    ],
)
def test_unacceptable_issuers(issuer, why):
    with pytest.raises(rules.RuleError, match=why):
        rules.check_issuer(issuer, allow_loopback=True)


def test_scopes_must_include_openid():
    assert rules.check_scopes("openid email openid groups") == "openid email groups"
    with pytest.raises(rules.RuleError):
        rules.check_scopes("email profile")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "a@acme.example", "email_verified": True}, None),
        ({"email": "a@ACME.example", "email_verified": "true"}, None),
        ({"email": "a@acme.example", "xms_edov": True}, None),
        ({"email": "a@acme.example", "email_verified": False}, "email_unverified"),
        ({"email": "a@acme.example", "email_verified": "false"}, "email_unverified"),
        ({"email": "a@acme.example"}, "email_unverified"),
        ({"email": "a@gmail.example", "email_verified": True}, "domain_not_allowed"),
        ({"email_verified": True}, "missing_email"),
    ],
)
def test_which_emails_may_create_or_link_an_account(claims, reason):
    assert rules.email_refusal(claims, ["acme.example"]) == reason
