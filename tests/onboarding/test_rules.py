"""The pure rules, without a database: tax ids, bank details, names, file types, states."""

from __future__ import annotations

import pytest

from app.onboarding import rules
from app.onboarding.models import SupportingDocumentKind
from app.orgs.models import OrgStatus

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "129339287", "12-9339287"),
        ("DE", "DE 752 917 034", "DE752917034"),
        ("FR", "40303265045", "FR40303265045"),
        ("GR", "094259216", "EL094259216"),
        ("GB", "980780684", "GB980780684"),
        ("CA", "123456782", "123456782"),
        ("CA", "123456782RT0001", "123456782RT0001"),
    ],
)
def test_valid_tax_ids(country, value, expected):
    assert rules.validate_tax_id(country, value).value == expected


@pytest.mark.parametrize(
    ("country", "value", "message"),
    [
        ("US", "00-1234567", "Tax ID is not a valid US EIN"),
        ("US", "", "Tax ID is required."),
        ("DE", "DE752917035", "Tax ID is not a valid EU VAT number: the number's checksum"),
        ("IE", "DE752917034", "Tax ID is a VAT number of DE, not of the company's country IE."),
        ("GB", "GB98078068", "Tax ID is not a valid UK VAT number"),
        ("CA", "123456789", "Tax ID is not a valid Canadian Business Number"),
    ],
)
def test_invalid_tax_ids_name_the_field(country, value, message):
    with pytest.raises(rules.FieldError) as caught:
        rules.validate_tax_id(country, value)
    assert caught.value.field == "tax_id"
    assert caught.value.message.startswith(message)


def test_a_country_without_a_validator_is_accepted_but_flagged():
    checked = rules.validate_tax_id("AQ", "ANT-1234")
    assert (checked.value, checked.validated) == ("ANT-1234", False)


def test_bank_details():
    details = rules.validate_bank("IBAN", iban="de81 8511 6797 1317 1361 09", bic="swhbdessxxx")
    assert (details.iban, details.bic) == ("DE81851167971317136109", "SWHBDESSXXX")
    details = rules.validate_bank("US_ABA", routing="2390-77969", account="3795 7422 88")
    assert (details.routing_number, details.account_number) == ("239077969", "3795742288")
    for kwargs, field in (
        ({"iban": "DE81851167971317136108", "bic": "SWHBDESSXXX"}, "iban"),
        ({"iban": "", "bic": "SWHBDESSXXX"}, "iban"),
        ({"iban": "DE81851167971317136109", "bic": ""}, "bic"),
    ):
        with pytest.raises(rules.FieldError) as caught:
            rules.validate_bank("IBAN", **kwargs)
        assert caught.value.field == field
    with pytest.raises(rules.FieldError) as caught:
        rules.validate_bank("US_ABA", routing="123456789", account="1234")
    assert caught.value.field == "routing_number"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme, Inc.", "ACME"),
        ("The ACME Company", "ACME"),
        ("Acme L.L.C.", "ACME"),
        ("Müller & Söhne GmbH", "MULLER AND SOHNE"),
        ("A B C Supplies", "ABC SUPPLIES"),
        ("Inc", "INC"),
    ],
)
def test_name_keys(name, key):
    assert rules.name_key(name) == key


def test_files_are_typed_by_their_first_bytes():
    assert rules.sniff_content_type(b"%PDF-1.7 ...") == "application/pdf"
    assert rules.sniff_content_type(b"\x89PNG\r\n\x1a\n...") == "image/png"
    assert rules.sniff_content_type(b"\xff\xd8\xff\xe1...") == "image/jpeg"
    assert rules.sniff_content_type(b"GIF89a") is None
    assert rules.sniff_content_type(b" %PDF-") is None


def test_the_state_machine():
    assert rules.can_transition(OrgStatus.DRAFT, OrgStatus.SUBMITTED)
    assert rules.can_transition(OrgStatus.CHANGES_REQUESTED, OrgStatus.SUBMITTED)
    assert not rules.can_transition(OrgStatus.DRAFT, OrgStatus.APPROVED)
    assert not rules.can_transition(OrgStatus.SUBMITTED, OrgStatus.ACTIVE)  # only via the ERP job
    assert not any(rules.can_transition(OrgStatus.REJECTED, s) for s in OrgStatus)


def test_required_documents_depend_on_the_country():
    assert rules.required_documents("US")[0] == SupportingDocumentKind.W9
    assert rules.required_documents("DE")[0] == SupportingDocumentKind.W8


def test_webhook_must_be_https():
    assert rules.https_url_problem("https://hooks.example.com/x") is None
    for url in (
        "http://hooks.example.com",
        "https://localhost",
        "ftp://x.example",
        "https:// x.com",
    ):
        assert rules.https_url_problem(url)
