"""One commit edge: views, jobs and commands commit once at their edge; nothing else commits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEntry
from app.audit.services import record
from app.db import commit_edge, db, refusable

APP = Path(__file__).resolve().parents[2] / "app"
# The portal's edge, and the mock ERP's own (a separate service with its own database).
EDGES = {APP / "db.py", APP / "erp" / "mock" / "app.py"}


def _commit_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


@pytest.mark.no_db
def test_nothing_commits_outside_the_edge():
    found = [
        f"{path.relative_to(APP.parent)}:{line}"
        for path in sorted(APP.rglob("*.py"))
        if path not in EDGES
        for line in _commit_calls(path)
    ]
    assert found == [], f"commit() outside the commit edge: {found}"


def test_every_view_has_the_commit_edge(app):
    unwrapped = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "__wrapped__", None) is None or view.__code__ is not _edge_code()
    ]
    assert unwrapped == []


def _edge_code():
    return commit_edge(lambda: None).__code__


def _entries() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_a_view_that_raises_leaves_nothing_written(app):
    before = _entries()

    def view():
        record("test.written", actor_label="test")
        raise RuntimeError("boom")

    with app.test_request_context(), pytest.raises(RuntimeError):
        commit_edge(view)()
    assert _entries() == before


def test_a_refused_action_is_undone_and_the_rest_is_committed(app):
    class RefusedError(Exception):
        pass

    before = _entries()

    def refused_action():
        record("test.refused", actor_label="test")
        raise RefusedError

    def view():
        record("test.kept", actor_label="test")
        try:
            with refusable():
                refused_action()
        except RefusedError:
            return "refused, and said why"

    with app.test_request_context():
        assert commit_edge(view)() == "refused, and said why"
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert _entries() == before + 1
    assert actions[-1] == "test.kept"


def test_a_refusal_that_escapes_a_view_is_a_4xx_with_its_message_not_a_500():
    from app import create_app
    from app.onboarding.errors import OnboardingError

    def refusing_view():
        raise OnboardingError("Only suppliers grant connections.")

    fresh = create_app("testing")  # its own app: a route added here touches no other test
    fresh.add_url_rule("/test-refusal", "test_refusal", commit_edge(refusing_view))
    client = fresh.test_client()
    page = client.get("/test-refusal")
    api = client.get("/test-refusal", headers={"Accept": "application/json"})
    assert page.status_code == 400
    assert "Only suppliers grant connections." in page.get_data(as_text=True)
    assert api.status_code == 400
    assert api.json["detail"] == "Only suppliers grant connections."
    assert api.mimetype == "application/problem+json"


def test_a_request_whose_database_connection_died_keeps_its_answer(client, monkeypatch):
    """Ending the session sends a rollback; on a connection the database killed it fails, and
    that must not turn the answer already made into the server's bare 500 page."""
    failures = []
    remove = db.session.remove

    def on_a_dead_connection() -> None:
        if not failures:
            failures.append("rollback")
            raise DBAPIError("ROLLBACK", None, Exception("terminating connection"))
        remove()

    monkeypatch.setattr(db.session, "remove", on_a_dead_connection)
    assert client.get("/healthz").status_code == 200
    assert failures == ["rollback"]
