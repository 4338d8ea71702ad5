"""The exclusion list: loaded from a CSV in the OIG LEIE layout by a command, matched on the
normalized business name and (when the file carries one) the tax id."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.db import db
from app.onboarding import screening
from app.onboarding.models import ExclusionEntry, ExclusionListLoad, Profile
from app.orgs.models import OrgStatus
from tests.factories.orgs import OrganizationFactory
from tests.onboarding.conftest import LEIE_ROWS, leie_csv


def test_the_command_loads_a_leie_file_and_replaces_the_previous_list(app, tmp_path):
    path = tmp_path / "UPDATED.csv"
    path.write_text(leie_csv(*LEIE_ROWS))
    result = app.test_cli_runner().invoke(args=["screening", "load", str(path)])
    assert result.exit_code == 0, result.output
    # The reinstated row is not an exclusion any more.
    assert "2 entries (1 skipped" in result.output
    entries = db.session.scalars(select(ExclusionEntry).order_by(ExclusionEntry.name_key)).all()
    assert [(e.name_key, e.display_name, e.exclusion_type, e.npi) for e in entries] == [
        ("CROOKED MEDICAL SUPPLY", "CROOKED MEDICAL SUPPLY LLC", "1128a1", None),
        ("JOHN DOE", "JOHN Q DOE", "1128b4", "1234567890"),
    ]
    path.write_text(leie_csv(LEIE_ROWS[0]))
    app.test_cli_runner().invoke(args=["screening", "load", str(path)])
    db.session.expire_all()
    assert len(db.session.scalars(select(ExclusionEntry)).all()) == 1
    assert len(db.session.scalars(select(ExclusionListLoad)).all()) == 2


def test_a_file_in_another_layout_is_refused(app, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("NAME,EIN\nAcme,12-3456789\n")
    result = app.test_cli_runner().invoke(args=["screening", "load", str(path)])
    assert result.exit_code == 1
    assert "not an LEIE file: missing column(s) LASTNAME, FIRSTNAME" in result.output


def _supplier(name: str, tax_id: str | None = None, trading_name: str | None = None):
    org = OrganizationFactory(name=name, status=OrgStatus.SUBMITTED)
    db.session.add(
        Profile(organization_id=org.id, contacts={}, tax_id=tax_id, trading_name=trading_name)
    )
    db.session.flush()
    db.session.expire(org)
    return org


def test_business_names_match_after_normalization(exclusion_list):
    for name in (
        "Crooked Medical Supply, L.L.C.",
        "crooked medical supply inc",
        "The Crooked Medical Supply Company",
    ):
        result = screening.screen(_supplier(name))
        assert [h["name"] for h in result.hits] == ["CROOKED MEDICAL SUPPLY LLC"], name
        assert not result.clear
        assert not result.passed
    assert screening.screen(_supplier("Crooked Medical Supplies Group")).clear
    assert screening.screen(
        _supplier("Honest Implants", trading_name="Crooked Medical Supply")
    ).hits
    # A reinstated business is not a hit.
    assert screening.screen(_supplier("Reformed Surgical Inc")).clear


def test_a_tax_id_column_matches_whatever_the_name(app):
    row = ",,,SHELL CO,,,,0000000000,,,,,,1128b7,20210101,00000000,00000000,,46-2530829"
    text = leie_csv(row).replace("WVRSTATE", "WVRSTATE,EIN", 1)
    screening.load_list(io.StringIO(text), "with-ein.csv")
    result = screening.screen(_supplier("Entirely Different Name LLC", tax_id="46-2530829"))
    assert [(h["name"], h["matched_on"]) for h in result.hits] == [("SHELL CO", "tax id")]


def test_no_list_means_no_pass():
    result = screening.screen(_supplier("Anyone"))
    assert result.list_load_id is None
    assert not result.clear
    assert not result.passed
