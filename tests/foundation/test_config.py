"""Configuration comes from the environment; production refuses development secrets."""

from __future__ import annotations

import pytest

import config
from app import create_app

pytestmark = pytest.mark.no_db


def test_production_refuses_the_default_secret_key():
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        create_app("production", {"SECRET_KEY": config.DEV_SECRET_KEY})


def test_production_refuses_a_missing_secret_key():
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        create_app("production", {"SECRET_KEY": None})


def test_production_refuses_the_development_encryption_key():
    with pytest.raises(config.ConfigError, match="ENCRYPTION_KEYS"):
        create_app("production", {"SECRET_KEY": "x" * 40})


def test_production_starts_with_real_secrets():
    from cryptography.fernet import Fernet

    app = create_app(
        "production",
        {
            "SECRET_KEY": "x" * 40,
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "OAUTH_ISSUER": "https://portal.hospital.example",
        },
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_database_url_forms(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/portal")
    assert config._database_url("DATABASE_URL", "x.sqlite") == "postgresql+psycopg://u@db/portal"
    monkeypatch.delenv("DATABASE_URL")
    assert config._database_url("DATABASE_URL", "x.sqlite").endswith("instance/x.sqlite")


def test_unknown_app_env_is_named():
    with pytest.raises(config.ConfigError, match="staging"):
        config.load("staging")
