"""All configuration, read from the environment in one place (documented in README.md)."""

from __future__ import annotations

import json
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


def _hours_by_code(name: str) -> dict[str, int]:
    """A JSON object of hold code → hours, e.g. {"DUPLICATE": 24, "BANK_DETAILS": 8}."""
    return {str(k): int(v) for k, v in json.loads(_env(name, "{}") or "{}").items()}


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
    # Off by default: a ping is one more round trip on every request, and a connection that
    # died (database restart) costs one more attempt of the request instead (DATABASE_RETRIES).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": _bool("DATABASE_PRE_PING", False)}
    # A request or job whose connection dies before it committed anything runs again on a
    # fresh one this many times (app.db.unit_of_work_retried); past that it answers 503.
    DATABASE_RETRIES = _int("DATABASE_RETRIES", 2)
    REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
    # "redis" talks to REDIS_URL; "fake" runs the queue in-process on fakeredis (make run
    # falls back to it when no Redis server can be had).
    QUEUE_BACKEND = _env("QUEUE_BACKEND", "redis")
    # `flask --app wsgi worker` (app/workers.py): how many supervised worker processes, "simple"
    # (jobs run in the worker's own process) or "fork" (a fork per job), and how many jobs a
    # worker runs before a fresh one replaces it (0: never).
    WORKER_PROCESSES = _int("WORKER_PROCESSES", 1)
    WORKER_CLASS = _env("WORKER_CLASS", "simple")
    WORKER_MAX_JOBS = _int("WORKER_MAX_JOBS", 0)
    # A stage job runs the stage it makes due next in the same worker (app/jobs.py).
    PIPELINE_CHAIN_STAGES = _bool("PIPELINE_CHAIN_STAGES", True)

    # Another ERP adapter, "package.module:Class" (satisfies app.erp.interface.ErpGateway and
    # has from_config(config)); unset: the HTTP ErpClient on ERP_URL.
    ERP_GATEWAY = _env("ERP_GATEWAY")
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
    # Strict-Transport-Security max-age in seconds on every answer; 0 sends none (app/headers.py).
    HSTS_SECONDS = _int("HSTS_SECONDS", 0)

    # Outbound calls to addresses a customer typed (identity providers, webhooks) go through
    # app/outbound.py: https only and public addresses only, unless these allow more.
    # Development and tests run their identity provider on 127.0.0.1 over plain http.
    OUTBOUND_ALLOW_PRIVATE = _bool("OUTBOUND_ALLOW_PRIVATE", True)
    OUTBOUND_ALLOW_HTTP = _bool("OUTBOUND_ALLOW_HTTP", True)

    # Webhooks: after a secret is rotated the old one keeps signing (beside the new one) this long.
    WEBHOOK_SECRET_OVERLAP_HOURS = _int("WEBHOOK_SECRET_OVERLAP_HOURS", 24)

    # Failed sign-ins allowed in LOGIN_WINDOW_SECONDS, per account and per client IP.
    LOGIN_MAX_FAILURES_PER_ACCOUNT = _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    LOGIN_MAX_FAILURES_PER_IP = _int("LOGIN_MAX_FAILURES_PER_IP", 20)
    LOGIN_WINDOW_SECONDS = _int("LOGIN_WINDOW_SECONDS", 900)

    # Mail: "smtp" sends through SMTP_*; "dev" keeps messages in the dev mailbox (/dev/mailbox).
    # Unset: smtp in production, dev elsewhere.
    MAIL_BACKEND = _env("MAIL_BACKEND")
    MAIL_FROM = _env("MAIL_FROM", "Supplier Portal <no-reply@supplier-portal.example>")
    PORTAL_URL = _env("PORTAL_URL", "http://localhost:5000")  # base of links in mail
    SMTP_HOST = _env("SMTP_HOST")
    SMTP_PORT = _int("SMTP_PORT", 587)
    SMTP_USERNAME = _env("SMTP_USERNAME")
    SMTP_PASSWORD = _env("SMTP_PASSWORD")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", True)
    SMTP_TIMEOUT = float(_env("SMTP_TIMEOUT", "10"))  # type: ignore[arg-type]

    # Onboarding: uploaded documents live outside the web root.
    UPLOAD_DIR = _env("UPLOAD_DIR")  # unset: instance/uploads
    UPLOAD_MAX_BYTES = _int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
    ONBOARDING_INVITATION_DAYS = _int("ONBOARDING_INVITATION_DAYS", 7)
    ONBOARDING_VERIFY_HOURS = _int("ONBOARDING_VERIFY_HOURS", 48)
    ONBOARDING_PAYMENT_TERMS = _env("ONBOARDING_PAYMENT_TERMS", "Net 60")

    # OAuth 2 authorization server.
    ACCESS_TOKEN_TTL = _int("ACCESS_TOKEN_TTL", 900)  # seconds
    CLIENT_SECRET_TTL_DAYS = _int("CLIENT_SECRET_TTL_DAYS", 365)
    # The `iss` of every token and of the metadata document: configuration only, never the
    # request's Host header (which the caller chooses). Production must set it (checked at
    # start-up); unset elsewhere it is PORTAL_URL, the development server's own address.
    OAUTH_ISSUER = _env("OAUTH_ISSUER")  # e.g. https://portal.hospital.example
    OAUTH_AUDIENCE = _env("OAUTH_AUDIENCE")  # unset: issuer + "/api"
    # Seconds a process may answer the token check from its copy of a client and organization
    # (any committed change to them is seen at the next call anyway); 0 loads them every call.
    OAUTH_CLIENT_CACHE_SECONDS = float(_env("OAUTH_CLIENT_CACHE_SECONDS", "30"))  # type: ignore[arg-type]

    # Intake: how long an Idempotency-Key is remembered (never less than 24 hours).
    INTAKE_IDEMPOTENCY_HOURS = _int("INTAKE_IDEMPOTENCY_HOURS", 24)
    # The outbox sweeper re-enqueues accepted documents whose job was lost (Redis loss, crash).
    INTAKE_SWEEP_DELAY_SECONDS = _int("INTAKE_SWEEP_DELAY_SECONDS", 60)  # age before a resend
    INTAKE_SWEEP_INTERVAL_SECONDS = _int("INTAKE_SWEEP_INTERVAL_SECONDS", 60)
    INTAKE_SWEEP_MAX_RESENDS = _int("INTAKE_SWEEP_MAX_RESENDS", 5)  # then left for ops
    # Workers beat this often (seconds), also during a job; one silent for three beats is
    # taken for dead and its job is sent again by the sweeper and the reconciler.
    WORKER_HEARTBEAT_SECONDS = _int("WORKER_HEARTBEAT_SECONDS", 5)

    # Finance: a clerk releases holds whose amount at risk is at most this; above it only a
    # finance manager may (in the invoice currency's units).
    FINANCE_RELEASE_LIMIT = _int("FINANCE_RELEASE_LIMIT", 10_000)
    # Held invoices are checked again (a late goods receipt releases a QTY_RECEIVED hold) by
    # the periodic sweep once their holds were last checked this many minutes ago.
    MATCHING_RECHECK_MINUTES = _int("MATCHING_RECHECK_MINUTES", 60)
    # The finance queue's SLA: hours from an invoice going on hold to its being resolved, by
    # default and per hold code (JSON); the shortest of its codes applies. Overdue rows stand out.
    HOLD_SLA_HOURS = _int("HOLD_SLA_HOURS", 48)
    # The finance queue's matching figures (a month of timelines) are kept this long per process.
    HOLDS_KPI_CACHE_SECONDS = _int("HOLDS_KPI_CACHE_SECONDS", 60)
    HOLD_SLA_HOURS_BY_CODE = _hours_by_code("HOLD_SLA_HOURS_BY_CODE")
    # An invoice dated more than this many days back is held (DATE) for a person to look at.
    MATCHING_MAX_AGE_DAYS = _int("MATCHING_MAX_AGE_DAYS", 365)

    # Posting to the ERP (app/posting): attempts before DEAD, and the full-jitter backoff
    # between them (seconds: attempt n waits up to min(cap, base * 2**(n-1))).
    POSTING_MAX_ATTEMPTS = _int("POSTING_MAX_ATTEMPTS", 6)
    POSTING_BACKOFF_BASE = float(_env("POSTING_BACKOFF_BASE", "5"))  # type: ignore[arg-type]
    POSTING_BACKOFF_CAP = float(_env("POSTING_BACKOFF_CAP", "600"))  # type: ignore[arg-type]
    # How long a claimed attempt is a worker's own; past it, an unfinished attempt is an
    # unknown outcome (longer than a lookup plus a create at the ERP's timeouts).
    POSTING_LEASE_SECONDS = _int("POSTING_LEASE_SECONDS", 60)
    # The ERP circuit breaker (shared through Redis): opens after this many failures within
    # the window, lets one probe through after the open period.
    BREAKER_FAILURE_THRESHOLD = _int("BREAKER_FAILURE_THRESHOLD", 5)
    BREAKER_WINDOW_SECONDS = _int("BREAKER_WINDOW_SECONDS", 30)
    BREAKER_OPEN_SECONDS = _int("BREAKER_OPEN_SECONDS", 15)
    # Payment sync asks the ERP about this many posted invoices per sweep, each at most this
    # often (minutes).
    PAYMENT_SYNC_BATCH = _int("PAYMENT_SYNC_BATCH", 50)
    PAYMENT_SYNC_MINUTES = _int("PAYMENT_SYNC_MINUTES", 10)
    # The reconciler re-enqueues a document not at an end state, with no live job, once it has
    # not moved for this long.
    RECONCILE_AFTER_SECONDS = _int("RECONCILE_AFTER_SECONDS", 300)
    # A document sent on this many times from the same state is left for ops (its job fails).
    RECONCILE_MAX_RESENDS = _int("RECONCILE_MAX_RESENDS", 5)

    # API throttling (tiers live in the database; these tune the counting itself).
    THROTTLE_ENABLED = _bool("THROTTLE_ENABLED", True)
    THROTTLE_REDIS_URL = _env("THROTTLE_REDIS_URL")  # unset: REDIS_URL
    # Seconds. A healthy Redis answers well under a millisecond; past this the process decides
    # alone with local limits (tier limits / THROTTLE_PROCESS_COUNT) and retries Redis later.
    THROTTLE_REDIS_TIMEOUT = float(_env("THROTTLE_REDIS_TIMEOUT", "0.02"))  # type: ignore[arg-type]
    THROTTLE_REDIS_RETRY_SECONDS = float(_env("THROTTLE_REDIS_RETRY_SECONDS", "5"))  # type: ignore[arg-type]
    THROTTLE_PROCESS_COUNT = _int("THROTTLE_PROCESS_COUNT", 2)
    THROTTLE_TIER_CACHE_SECONDS = float(_env("THROTTLE_TIER_CACHE_SECONDS", "2"))  # type: ignore[arg-type]
    THROTTLE_TOKEN_PER_CLIENT_PER_MINUTE = _int("THROTTLE_TOKEN_PER_CLIENT_PER_MINUTE", 30)
    THROTTLE_TOKEN_PER_IP_PER_MINUTE = _int("THROTTLE_TOKEN_PER_IP_PER_MINUTE", 120)

    # Operations: minutes a document may stay in a state before the console lists it as late
    # (states not named have no SLA), and the networks that may scrape /metrics without
    # signing in (comma-separated CIDRs; signed-in ops may always).
    OPS_SLA_MINUTES = _env(
        "OPS_SLA_MINUTES", "RECEIVED=5,NORMALIZED=5,VALIDATED=15,POSTING=30,ON_HOLD=2880"
    )
    METRICS_ALLOW_CIDRS = _env("METRICS_ALLOW_CIDRS", "")

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
    OAUTH_ISSUER = "http://portal.test"  # the in-process test client's own URL
    HOLDS_KPI_CACHE_SECONDS = 0  # every test reads the figures it just made


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    LOG_FORMAT = _env("LOG_FORMAT", "json")
    HSTS_SECONDS = _int("HSTS_SECONDS", 2 * 365 * 24 * 3600)
    OUTBOUND_ALLOW_PRIVATE = _bool("OUTBOUND_ALLOW_PRIVATE", False)
    OUTBOUND_ALLOW_HTTP = _bool("OUTBOUND_ALLOW_HTTP", False)


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
    """Refuse to start production with development secrets or without its token issuer."""
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
    if not cfg.get("OAUTH_ISSUER"):
        raise ConfigError(
            "OAUTH_ISSUER must be set in production to the portal's public URL "
            "(e.g. https://portal.hospital.example): it is the issuer of every access token"
        )
