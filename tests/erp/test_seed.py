"""The seed is deterministic and its identifiers are valid; the fake holds the same data."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from stdnum import iban
from stdnum.eu import vat
from stdnum.us import ein, rtn

from app.erp.fake import RecordingErp
from app.erp.mock import catalog, create_app
from app.erp.mock.models import Base

pytestmark = pytest.mark.no_db


def dump_fresh_database(path: Path) -> dict[str, list[tuple]]:
    app = create_app(
        {
            "MOCK_ERP_DATABASE_URL": f"sqlite:///{path}",
            "MOCK_ERP_API_KEY": "k",
            "MOCK_ERP_ADMIN_KEY": "a",
            "MOCK_ERP_PORT": 0,
        }
    )
    engine = app.extensions["mock_erp"].engine
    with engine.connect() as connection:
        dump = {
            table.name: list(connection.execute(select(table).order_by(*table.primary_key.columns)))
            for table in Base.metadata.sorted_tables
        }
    engine.dispose()
    return dump


def test_two_fresh_databases_hold_identical_data(tmp_path: Path) -> None:
    first = dump_fresh_database(tmp_path / "a.sqlite")
    second = dump_fresh_database(tmp_path / "b.sqlite")
    assert first == second
    assert len(first["purchase_orders"]) == 200
    assert len(first["receipts"]) > 100


def test_catalog_identifiers_are_valid() -> None:
    assert len(catalog.VENDORS) == 20
    assert len({v.number for v in catalog.VENDORS}) == 20
    for vendor in catalog.VENDORS:
        if vendor.country == "US":
            assert ein.is_valid(vendor.tax_id), vendor
            assert rtn.is_valid(vendor.remit_to.bank_code), vendor
        else:
            assert vat.is_valid(vendor.tax_id), vendor
            assert iban.is_valid(vendor.remit_to.account), vendor
            assert vendor.currency == "EUR"
        assert vendor.email_domain.endswith(".example")
    assert {v.kind for v in catalog.VENDORS} == {"implants", "surgical", "pharmacy"}


def test_fake_holds_the_seed() -> None:
    fake = RecordingErp()
    assert len(fake.list_purchase_orders()) == 200
    assert len(fake.list_vendors()) == 20
    assert [c.method for c in fake.calls] == ["list_purchase_orders", "list_vendors"]
