"""`flask keys rotate` re-encrypts every encrypted column with the newest key."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select, text

from app.db import db
from app.onboarding.models import BankAccount, BankScheme, BankStatus, Profile
from tests.factories.orgs import OrganizationFactory


def test_rotation_re_encrypts_bank_data_and_tax_ids_with_the_newest_key(app):
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    saved = app.extensions["fernet"]
    try:
        app.extensions["fernet"] = MultiFernet([Fernet(old_key)])
        org = OrganizationFactory()
        db.session.add(Profile(organization_id=org.id, contacts={}, tax_id="12-9339287"))
        db.session.add(
            BankAccount(
                organization_id=org.id,
                status=BankStatus.ACTIVE,
                scheme=BankScheme.IBAN,
                account_holder="A",
                bank_name="B",
                iban="DE81851167971317136109",
                bic="SWHBDESSXXX",
            )
        )
        db.session.commit()
        before = db.session.execute(text("SELECT iban FROM bank_accounts")).scalar_one()

        app.extensions["fernet"] = MultiFernet([Fernet(new_key), Fernet(old_key)])
        result = app.test_cli_runner().invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "bank_accounts: 2 value(s) re-encrypted" in result.output
        assert "onboarding_profiles: 1 value(s) re-encrypted" in result.output

        raw_iban = db.session.execute(text("SELECT iban FROM bank_accounts")).scalar_one()
        raw_tax = db.session.execute(text("SELECT tax_id FROM onboarding_profiles")).scalar_one()
        assert raw_iban != before
        assert Fernet(new_key).decrypt(raw_iban.encode()) == b"DE81851167971317136109"
        assert Fernet(new_key).decrypt(raw_tax.encode()) == b"12-9339287"

        # With only the new key configured, the application still reads everything.
        app.extensions["fernet"] = MultiFernet([Fernet(new_key)])
        db.session.expire_all()
        assert db.session.scalar(select(BankAccount.iban)) == "DE81851167971317136109"
        assert db.session.scalar(select(Profile.tax_id)) == "12-9339287"
    finally:
        app.extensions["fernet"] = saved
