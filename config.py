"""All configuration, read from the environment in one place (documented in README.md)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))

DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - refused in production below
# A Fernet key used only in development and tests; production refuses it like the secret key.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))  # type: ignore[arg-type]


def _bool(name: str, default: bool) -> bool:
    return (_env(name, "1" if default else "0") or "").lower() in {"1", "true", "yes", "on"}


def _database_url(name: str, default: str) -> str:
    """Read a database URL; a bare file name means a SQLite file under instance/."""
    url = _env(name) or (default if "://" in default else f"sqlite:///{INSTANCE_DIR / default}")
    # Heroku-style URLs and bare postgresql:// both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class ConfigError(RuntimeError):
    """Raised at start-up when the environment cannot run the portal safely."""


class Config:
    """Settings for every environment; subclasses only change defaults."""

    ENV_NAME = "development"
    TESTING = False
    SECRET_KEY = _env("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _database_url("DATABASE_URL", "portal.sqlite")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
    # "redis" talks to REDIS_URL; "fake" runs the queue in-process on fakeredis (make run
    # falls back to it when no Redis server can be had).
    QUEUE_BACKEND = _env("QUEUE_BACKEND", "redis")

    ERP_URL = _env("ERP_URL", "http://127.0.0.1:5001")
    ERP_API_KEY = _env("ERP_API_KEY", "mock-erp-dev-key")
    ERP_CONNECT_TIMEOUT = float(_env("ERP_CONNECT_TIMEOUT", "2.0"))  # type: ignore[arg-type]
    ERP_READ_TIMEOUT = float(_env("ERP_READ_TIMEOUT", "10.0"))  # type: ignore[arg-type]
    MOCK_ERP_DATABASE_URL = _database_url("MOCK_ERP_DATABASE_URL", "mock_erp.sqlite")
    MOCK_ERP_API_KEY = _env("MOCK_ERP_API_KEY", ERP_API_KEY)
    MOCK_ERP_ADMIN_KEY = _env("MOCK_ERP_ADMIN_KEY", "mock-erp-admin-key")

    WEB_PORT = _int("PORT", 5000)
    MOCK_ERP_PORT = _int("MOCK_ERP_PORT", 5001)

    # Comma-separated Fernet keys, newest first (MultiFernet): encrypts secrets and bank data.
    ENCRYPTION_KEYS = [
        k.strip()
        for k in (_env("ENCRYPTION_KEYS", DEV_ENCRYPTION_KEY) or "").split(",")
        if k.strip()
    ]

    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_DURATION = 0

    # Failed sign-ins allowed in LOGIN_WINDOW_SECONDS, per account and per client IP.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_IP = _int("LOGIN_MAX_FAILURES_PER_IP", 20)
    LOGIN_WINDOW_SECONDS = _int("LOGIN_WINDOW_SECONDS", 900)

    WTF_CSRF_TIME_LIMIT = None  # the session's own timeouts bound the token's life
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    LOG_FORMAT = _env("LOG_FORMAT", "console")  # "json" in production
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")


class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = _database_url("TEST_DATABASE_URL", "postgresql://127.0.0.1/test")
    REDIS_URL = _env("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    SERVER_NAME = "portal.test"


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    LOG_FORMAT = _env("LOG_FORMAT", "json")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load(name: str | None = None) -> type[Config]:
    """Pick the settings class from APP_ENV (development, testing, production)."""
    name = name or _env("APP_ENV", "development")
    try:
        return CONFIGS[name]  # type: ignore[index]
    except KeyError:
        raise ConfigError(f"APP_ENV={name!r} is not one of {', '.join(CONFIGS)}") from None


def check_production(cfg: dict) -> None:
    """Refuse to start production with development secrets."""
    if cfg.get("ENV_NAME") != "production":
        return
    if (
        not cfg.get("SECRET_KEY")
        or cfg["SECRET_KEY"] == DEV_SECRET_KEY
        or len(cfg["SECRET_KEY"]) < 32
    ):
        raise ConfigError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production"
        )
    if DEV_ENCRYPTION_KEY in cfg.get("ENCRYPTION_KEYS", []) or not cfg.get("ENCRYPTION_KEYS"):
        raise ConfigError("ENCRYPTION_KEYS must be set to your own Fernet keys in production")
