"""Fixtures for onboarding: signed-in suppliers, partners and procurement admins, uploads in a
temporary directory, and an exclusion list."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pytest

from app.onboarding import screening
from app.orgs.models import OrgKind, OrgStatus
from app.orgs.roles import Role
from tests.conftest import IsolatedClient, login, needs_no_db
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory

LEIE_HEADER = (
    "LASTNAME,FIRSTNAME,MIDNAME,BUSNAME,GENERAL,SPECIALTY,UPIN,NPI,DOB,ADDRESS,CITY,STATE,ZIP,"
    "EXCLTYPE,EXCLDATE,REINDATE,WAIVERDATE,WVRSTATE"
)
LEIE_ROWS = (
    ",,,CROOKED MEDICAL SUPPLY LLC,DME COMPANY,,,0000000000,,12 FRAUD ST,MIAMI,FL,33101,1128a1,20190415,00000000,00000000,",
    "DOE,JOHN,Q,,PHYSICIAN,INTERNAL MEDICINE,,1234567890,19600101,1 ELM ST,AUSTIN,TX,73301,1128b4,20200101,00000000,00000000,",
    ",,,REFORMED SURGICAL INC,SUPPLIER,,,0000000000,,2 OAK ST,DALLAS,TX,75201,1128b7,20150101,20200101,00000000,",
)


def leie_csv(*rows: str) -> str:
    return "\n".join((LEIE_HEADER, *rows)) + "\n"


@pytest.fixture(autouse=True)
def upload_dir(request, tmp_path, monkeypatch):
    """Uploads go to the test's temporary directory (`no_db` tests have no app to configure)."""
    if not needs_no_db(request):
        app = request.getfixturevalue("app")
        monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def exclusion_list(app):
    """A small list in the LEIE layout, loaded the way the command does."""
    return screening.load_list(io.StringIO(leie_csv(*LEIE_ROWS)), "LEIE-test.csv")


@pytest.fixture
def supplier_admin(client):
    """A signed-in admin of a supplier that has just started onboarding (DRAFT)."""
    org = OrganizationFactory(status=OrgStatus.DRAFT, country=None)
    user = UserFactory(
        email="admin@supplier.example", role=Role.SUPPLIER_ADMIN, role__organization=org
    )
    assert login(client, user.email, PASSWORD).status_code == 302
    return user


def signed_in_browser(app, user):
    """A separate browser (its own cookies) signed in as `user`."""
    app.test_client_class = IsolatedClient
    browser = app.test_client()
    response = login(browser, user.email, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


@pytest.fixture
def procurement(app):
    """A procurement admin with their own browser (`.browser`)."""
    user = UserFactory(email="pat@hospital.example", role=Role.PROCUREMENT_ADMIN)
    user.browser = signed_in_browser(app, user)
    return user


@pytest.fixture
def second_procurement(app):
    user = UserFactory(email="quinn@hospital.example", role=Role.PROCUREMENT_ADMIN)
    user.browser = signed_in_browser(app, user)
    return user


@dataclass(frozen=True)
class Submitted:
    id: int
    kind: OrgKind
    tax_id: str


@pytest.fixture
def submitted_supplier(client, supplier_admin, exclusion_list) -> Submitted:
    """A supplier whose complete profile was submitted through the wizard (screened clear)."""
    from tests.onboarding.helpers import fill_supplier_profile, submit, unique_ein

    org_id = supplier_admin.organization.id
    tax_id = unique_ein()
    name = f"Acme Implants {uuid.uuid4().hex[:6]}"  # unique in the shared mock ERP
    fill_supplier_profile(client, org_id, name=name, tax_id=tax_id)
    assert submit(client, org_id).status_code == 302
    return Submitted(org_id, OrgKind.SUPPLIER, tax_id)
