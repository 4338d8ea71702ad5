"""The queue's matching KPIs against invoices whose timelines are known to the minute: the same
figures from PostgreSQL's grouped query and from SQLite's Python reduction."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_migrate import upgrade

from app import create_app
from app.db import db, utcnow
from app.documents.models import DocumentKind, DocumentState
from app.holds import queries
from app.matching.findings import HoldCode, Severity
from app.matching.models import Hold, HoldStatus
from app.orgs.models import Organization
from app.orgs.roles import Role
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.documents import DocumentFactory
from tests.factories.orgs import OrganizationFactory

S = DocumentState
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def midnight() -> dt.datetime:
    today = utcnow().date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)


def _invoice(supplier, received: dt.datetime, *steps: tuple[DocumentState, dt.timedelta], **kw):
    timeline = [(S.RECEIVED, received), (S.NORMALIZED, received + MIN)]
    timeline += [(state, received + after) for state, after in steps]
    return DocumentFactory(sender_org_id=supplier.id, created_at=received, timeline=timeline, **kw)


def _hold(document, code: HoldCode, at: dt.datetime, status=HoldStatus.OPEN) -> None:
    db.session.add(
        Hold(
            document_id=document.id,
            code=code,
            severity=Severity.HOLD,
            status=status,
            finance_message="found",
            supplier_message="found",
            created_at=at,
        )
    )
    db.session.flush()


def build_known() -> dict:
    """Yesterday, supplier one: A validated after 1 h; B held, released, validated after 3 h;
    C rejected. Two days ago, supplier two: D validated after 2 h; E held (QTY_RECEIVED and
    PRICE) and still held. Left out: an acknowledgment, an invoice received before the window,
    one that has no verdict yet."""
    one = OrganizationFactory(supplier=True, name="Supplier One")
    two = OrganizationFactory(supplier=True, name="Supplier Two")
    yesterday = midnight() - dt.timedelta(days=1) + 10 * HOUR
    before = midnight() - dt.timedelta(days=2) + 9 * HOUR
    _invoice(one, yesterday, (S.VALIDATED, HOUR), (S.POSTING, 2 * HOUR), (S.POSTED, 2 * HOUR))
    b = _invoice(one, yesterday + MIN, (S.ON_HOLD, 6 * MIN), (S.VALIDATED, 3 * HOUR))
    _hold(b, HoldCode.PRICE, yesterday + 7 * MIN, HoldStatus.RELEASED)
    _invoice(one, yesterday + 2 * MIN, (S.REJECTED, 5 * MIN))
    _invoice(two, before, (S.VALIDATED, 2 * HOUR))
    e = _invoice(two, before + MIN, (S.ON_HOLD, 6 * MIN))
    _hold(e, HoldCode.QTY_RECEIVED, before + 7 * MIN)
    _hold(e, HoldCode.PRICE, before + 7 * MIN)
    _invoice(two, before, (S.VALIDATED, HOUR), kind=DocumentKind.ACKNOWLEDGMENT)
    _invoice(two, midnight() - dt.timedelta(days=40), (S.ON_HOLD, HOUR))
    DocumentFactory(sender_org_id=one.id, timeline=[(S.RECEIVED, yesterday)])
    return {"one": one.id, "two": two.id}


def since() -> dt.datetime:
    return midnight() - dt.timedelta(days=3)


def check_report(ids: dict) -> None:
    report = queries.kpi_report(since())
    overall = report.overall
    assert (overall.checked, overall.first_pass, overall.held, overall.rejected) == (5, 2, 2, 1)
    assert overall.first_pass_rate == pytest.approx(0.4)  # rejected count in the denominator
    assert overall.exception_rate == pytest.approx(0.4)
    # Received → validated: A 1 h, D 2 h, B 3 h (its hold included); C and E never were.
    assert overall.median_hours == pytest.approx(2.0)
    assert overall.p90_hours == pytest.approx(2.8)
    assert overall.holds == {HoldCode.PRICE: 2, HoldCode.QTY_RECEIVED: 1}

    yesterday, before = ((midnight() - dt.timedelta(days=n)).date() for n in (1, 2))
    assert [day for day, _ in report.by_day] == [yesterday, before]
    (_, one_day), (_, two_days) = report.by_day
    assert (one_day.checked, one_day.first_pass, one_day.held, one_day.rejected) == (3, 1, 1, 1)
    assert (one_day.median_hours, one_day.p90_hours) == (pytest.approx(2.0), pytest.approx(2.8))
    assert one_day.holds == {HoldCode.PRICE: 1}
    assert (two_days.checked, two_days.first_pass, two_days.held) == (2, 1, 1)
    assert (two_days.median_hours, two_days.p90_hours) == (pytest.approx(2.0), pytest.approx(2.0))
    assert two_days.holds == {HoldCode.QTY_RECEIVED: 1, HoldCode.PRICE: 1}

    assert [supplier for supplier, _ in report.by_supplier] == [ids["one"], ids["two"]]
    (_, one), (_, two) = report.by_supplier
    assert one.first_pass_rate == pytest.approx(1 / 3)
    assert one.holds == {HoldCode.PRICE: 1}
    assert two.exception_rate == pytest.approx(0.5)
    assert two.holds == {HoldCode.QTY_RECEIVED: 1, HoldCode.PRICE: 1}

    only_two = queries.kpi_report(since(), ids["two"])
    assert (only_two.overall.checked, only_two.overall.first_pass) == (2, 1)
    assert only_two.overall.holds == {HoldCode.QTY_RECEIVED: 1, HoldCode.PRICE: 1}
    assert [supplier for supplier, _ in only_two.by_supplier] == [ids["two"]]


def test_kpis_in_all_per_day_and_per_supplier_on_postgresql():
    check_report(build_known())


@pytest.mark.no_db
def test_sqlite_gives_the_same_figures(tmp_path):
    """`make run`'s SQLite has neither percentile_cont nor grouping sets: the same per-invoice
    rows are reduced in Python."""
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}"})
    with app.app_context():
        upgrade(revision="heads")
        check_report(build_known())
        db.session.rollback()
        db.engine.dispose()


def test_the_queue_page_shows_rejections_and_holds_by_code_per_day_and_supplier(client):
    build_known()
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)
    queue = client.get("/finance/holds").get_data(as_text=True)
    assert 'data-src="/finance/holds/kpis?fragment=1"' in queue  # loaded after the rows
    page = client.get("/finance/holds/kpis").get_data(as_text=True)
    assert "Rejected at the first check" in page
    assert "40%" in page  # first pass and exceptions, rejections counted
    per_day = page[page.index('aria-label="Per day"') :]
    per_day = per_day[: per_day.index("</table>")]
    assert "PRICE 1" in per_day
    assert "QTY RECEIVED 1" in per_day
    per_supplier = page[page.index('aria-label="Per supplier"') :]
    assert "Supplier Two" in per_supplier
    fragment = client.get("/finance/holds/kpis?fragment=1").get_data(as_text=True)
    assert "<html" not in fragment
    assert "40%" in fragment


def test_the_figures_of_one_supplier(client):
    ids = build_known()
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)
    page = client.get(f"/finance/holds/kpis?supplier={ids['two']}").get_data(as_text=True)
    assert "Matching over the last 30 days: Supplier Two" in page
    assert "50%" in page
    assert "Supplier One" not in page


def test_suppliers_cannot_read_the_figures(client):
    supplier = OrganizationFactory(supplier=True)
    user = UserFactory(role=Role.SUPPLIER_ADMIN, role__organization=supplier)
    login(client, user.email, PASSWORD)
    assert client.get("/finance/holds/kpis").status_code == 403


def test_the_figures_are_kept_a_short_while_and_say_as_of_when(app, client, monkeypatch):
    from app.holds import views

    monkeypatch.setattr(views, "_kpi_cache", {})
    monkeypatch.setitem(app.config, "HOLDS_KPI_CACHE_SECONDS", 60)
    ids = build_known()
    user = UserFactory(role=Role.FINANCE_CLERK)
    login(client, user.email, PASSWORD)
    url = f"/finance/holds/kpis?fragment=1&supplier={ids['one']}"
    first = client.get(url).get_data(as_text=True)
    one = db.session.get(Organization, ids["one"])
    _invoice(one, midnight() - 5 * HOUR, (S.VALIDATED, HOUR))  # a fourth, first-pass
    assert client.get(url).get_data(as_text=True) == first  # kept: as of the first read
    monkeypatch.setitem(app.config, "HOLDS_KPI_CACHE_SECONDS", 0)
    fresh = client.get(url).get_data(as_text=True)
    assert "<dd>4 " in fresh
    assert "50%" in fresh  # 2 of 4 first pass
