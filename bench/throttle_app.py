"""The portal plus an API-like endpoint for bench/throttle_bench.py, served by gunicorn.

POST /api/bench/invoices does what a token-protected intake call does around its own work:
it loads the calling client's organization (as the token check loads the client), hands the
client to the throttle hook exactly as `require_token` does, parses the JSON body and answers
202 with a Location. BENCH_THROTTLE=0 switches throttling off (THROTTLE_ENABLED);
BENCH_THROTTLE=ping leaves it off but makes one bare Redis round trip (PING) per call, with
the throttling client's settings: the floor any one-round-trip limiter pays."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass

from flask import Blueprint, Response, abort, current_app, jsonify, request
from redis import Redis

from app import create_app
from app.db import db
from app.extensions import csrf
from app.orgs.models import Organization

bp = Blueprint("throttle_bench", __name__)
MODE = os.environ.get("BENCH_THROTTLE", "1")
_threads = threading.local()


@dataclass(frozen=True)
class BenchClient:
    id: int
    client_id: str
    organization_id: int


@bp.post("/api/bench/invoices")
def invoices():
    org = db.session.get(Organization, int(request.headers["X-Bench-Org"])) or abort(401)
    client = BenchClient(int(request.headers["X-Bench-Client"]), "bench-client", org.id)
    if MODE == "ping":
        _redis_ping()
    answer = current_app.extensions["throttle_hook"](client)
    if isinstance(answer, Response):
        return answer
    payload = request.get_json()
    if not isinstance(payload, dict) or "lines" not in payload:
        abort(400, "not an invoice")
    document_id = uuid.uuid4().hex
    response = jsonify(id=document_id, state="RECEIVED")
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/documents/{document_id}"
    return response


def _redis_ping() -> None:
    client = getattr(_threads, "redis", None)
    if client is None:
        timeout = current_app.config["THROTTLE_REDIS_TIMEOUT"]
        client = _threads.redis = Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            single_connection_client=True,
        )
    client.ping()


app = create_app(
    None,
    {
        "THROTTLE_ENABLED": MODE == "1",
        "THROTTLE_REDIS_TIMEOUT": float(os.environ.get("BENCH_REDIS_TIMEOUT", "0.02")),
        "SERVER_NAME": None,
        # Every server of the run accepts the tokens the bench issued.
        "OAUTH_ISSUER": os.environ.get("BENCH_ISSUER", "http://portal.bench"),
    },
)
csrf.exempt(bp)
app.register_blueprint(bp)
