"""Checks of the three things the portal depends on: database, Redis and the ERP."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from flask import current_app
from sqlalchemy import text

from app.db import db
from app.erp import get_erp
from app.jobs import redis_connection


@dataclass(frozen=True)
class Check:
    name: str
    up: bool
    latency_ms: float
    detail: str = ""


def _timed(name: str, probe) -> Check:
    started = time.perf_counter()
    try:
        up, detail = probe()
    except Exception as exc:
        up, detail = False, f"{type(exc).__name__}: {exc}"[:200]
    return Check(name, up, round((time.perf_counter() - started) * 1000, 1), detail)


def _database() -> tuple[bool, str]:
    db.session.execute(text("SELECT 1"))
    return True, db.engine.dialect.name


def _redis() -> tuple[bool, str]:
    redis_connection().ping()
    backend = current_app.config["QUEUE_BACKEND"]
    return True, "in-process fakeredis" if backend == "fake" else "redis"


def _erp() -> tuple[bool, str]:
    up = get_erp().ping()
    return up, current_app.config["ERP_URL"] if up else "no answer from " + current_app.config[
        "ERP_URL"
    ]


def run_checks() -> list[Check]:
    return [_timed("database", _database), _timed("redis", _redis), _timed("erp", _erp)]


def as_json(checks: list[Check]) -> dict:
    return {
        "status": "ready" if all(c.up for c in checks) else "degraded",
        "checks": {c.name: asdict(c) | {"status": "up" if c.up else "down"} for c in checks},
    }
