"""/healthz, /readyz and the ops health page report the three dependencies honestly."""

from __future__ import annotations

from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory


def test_healthz_is_alive_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_all_three_up(client, portal_erp):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    checks = response.json["checks"]
    assert {name: c["status"] for name, c in checks.items()} == {
        "database": "up",
        "redis": "up",
        "erp": "up",
    }
    assert checks["database"]["detail"] == "postgresql"


def test_readyz_is_503_and_names_the_erp_when_it_is_down(client):
    # Without portal_erp the app points at a port where nothing listens.
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert response.json["checks"]["erp"]["status"] == "down"
    assert "no answer from" in response.json["checks"]["erp"]["detail"]


def test_readyz_reports_redis_down(client, app, monkeypatch):
    from redis import Redis

    broken = Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["status"] == "down"
    assert "ConnectionError" in response.json["checks"]["redis"]["detail"]


def test_ops_health_page_shows_each_dependency(client, portal_erp):
    UserFactory(email="ops@hospital.example", role=Role.OPS)
    login(client, "ops@hospital.example", PASSWORD)
    page = client.get("/ops/health").get_data(as_text=True)
    for name in ("database", "redis", "erp"):
        assert f"<td>{name}</td>" in page
    assert "badge-up" in page
    assert "badge-down" not in page


def test_every_response_carries_a_correlation_id(client):
    given = client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
    assert given.headers["X-Correlation-ID"] == "abc-123"
    traced = client.get(
        "/healthz",
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
    assert traced.headers["X-Correlation-ID"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(client.get("/healthz").headers["X-Correlation-ID"]) == 32
