"""The token endpoint is limited per client and per IP address (limits set in conftest)."""

from __future__ import annotations

from app.problems import PROBLEM_TYPE_BASE
from tests.throttling.conftest import TOKEN_PER_CLIENT, TOKEN_PER_IP
from tests.throttling.testapp import TOKEN


def _token(api, client_id: str | None, ip: str):
    data = {"client_id": client_id} if client_id else {}
    return api.post(TOKEN, data=data, environ_base={"REMOTE_ADDR": ip})


def test_one_client_gets_its_quota_of_token_requests(api):
    codes = [
        _token(api, "partner-a", "203.0.113.1").status_code for _ in range(TOKEN_PER_CLIENT + 2)
    ]
    assert codes == [200] * TOKEN_PER_CLIENT + [429, 429]
    refused = _token(api, "partner-a", "203.0.113.2")  # from another address: still this client
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"] == PROBLEM_TYPE_BASE + "rate-limit-token-client"
    assert refused.json["violated-policies"] == ["token-client"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert f'"token-client";q={TOKEN_PER_CLIENT};w=60' in refused.headers["RateLimit-Policy"]


def test_one_address_gets_its_quota_whatever_client_it_names(api):
    codes = [
        _token(api, f"partner-{n}", "198.51.100.7").status_code for n in range(TOKEN_PER_IP + 1)
    ]
    assert codes == [200] * TOKEN_PER_IP + [429]
    refused = _token(api, "partner-new", "198.51.100.7")
    assert refused.json["type"] == PROBLEM_TYPE_BASE + "rate-limit-token-ip"
    assert "from this address" in refused.json["detail"]
    # Another address is not affected.
    assert _token(api, "partner-other", "198.51.100.8").status_code == 200


def test_a_request_without_client_id_counts_against_its_address(api):
    codes = [_token(api, None, "192.0.2.9").status_code for _ in range(TOKEN_PER_IP + 1)]
    assert codes == [200] * TOKEN_PER_IP + [429]


def test_token_answers_carry_rate_limit_headers(api):
    answer = _token(api, "partner-h", "192.0.2.50")
    assert answer.status_code == 200
    assert answer.headers["RateLimit-Policy"] == (
        f'"token-ip";q={TOKEN_PER_IP};w=60, "token-client";q={TOKEN_PER_CLIENT};w=60'
    )
