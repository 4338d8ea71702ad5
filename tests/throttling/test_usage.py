"""The usage page: tier, today's figures per client, 429s in 24 hours, a chart per hour."""

from __future__ import annotations

import datetime as dt
import re

from app.orgs.models import OrgKind
from app.orgs.roles import Role
from app.throttling.chart import hourly_chart, nice_ceiling
from app.throttling.usage import HourUsage
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.throttling.conftest import another_client, client_on, make_tier
from tests.throttling.helpers import statuses
from tests.throttling.testapp import DOCUMENTS, client_headers


def _admin_of(api, org, role=Role.PARTNER_ADMIN):
    user = UserFactory(role=role, role__organization=org)
    login(api, user.email, PASSWORD)


def test_usage_page_shows_today_per_client_and_the_last_24_hours(api):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    tier = make_tier(name="Usage tier", requests_per_day=5, documents_per_day=40)
    busy = client_on(tier, organization=org)
    quiet = another_client(org.id)
    assert statuses(api, busy, 7) == [200] * 5 + [429] * 2
    assert statuses(api, quiet, 2) == [200, 200]
    api.post(f"{DOCUMENTS}?count=3", headers=client_headers(quiet))
    _admin_of(api, org)
    page = api.get("/api-usage").get_data(as_text=True)
    assert "Your tier: Usage tier" in page
    assert "<strong>8</strong> requests today" in page  # 5 + 2 + the documents call
    assert "<strong>3</strong> documents today" in page
    assert "<strong>2</strong> refused (429) in the last 24 hours" in page
    row = re.search(rf"<td>{busy.client_id}</td>.*?</tr>", page, re.S).group(0)
    assert "5 / 5" in row
    assert "0 / 40" in row
    assert re.search(rf"<td>{quiet.client_id}</td>.*?3 / 40", page, re.S)
    # The chart: 24 bars, this hour's title counts the requests and the 429s.
    assert page.count('class="bar-ok"') == 24
    this_hour = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H")
    assert f"{this_hour}:00 UTC: 8 requests, 2 refused (429), 3 documents" in page


def test_usage_page_shows_only_the_callers_organization(api):
    mine = OrganizationFactory(kind=OrgKind.SUPPLIER)
    theirs = OrganizationFactory(kind=OrgKind.SUPPLIER)
    stranger = client_on(make_tier(), organization=theirs)
    statuses(api, stranger, 3)
    _admin_of(api, mine, Role.SUPPLIER_ADMIN)
    page = api.get("/api-usage").get_data(as_text=True)
    assert stranger.client_id not in page
    assert "No API calls today yet." in page


def test_usage_page_survives_redis_being_unreachable(api, throttle_app):
    org = OrganizationFactory(kind=OrgKind.PARTNER)
    _admin_of(api, org)
    throttling = throttle_app.extensions["throttling"]
    throttling.redis.connection_pool.connection_kwargs["port"] = 9  # nothing listens there
    throttling.redis.connection_pool.disconnect()
    answer = api.get("/api-usage")
    assert answer.status_code == 200
    assert "Usage figures cannot be read right now" in answer.get_data(as_text=True)


def test_users_without_an_admin_role_cannot_open_the_usage_page(api):
    user = UserFactory(role=Role.SUPPLIER_USER)
    login(api, user.email, PASSWORD)
    assert api.get("/api-usage").status_code == 403


def test_chart_scales_to_a_round_maximum():
    assert [nice_ceiling(v) for v in (0, 1, 3, 10, 11, 420, 5001)] == [1, 1, 5, 10, 20, 500, 10000]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    hours = [
        HourUsage(start + dt.timedelta(hours=i), i * 10, 5 if i == 23 else 0, 0) for i in range(24)
    ]
    chart = hourly_chart(hours)
    assert chart.scale_max == 500  # 230 + 5 rounds up to 500
    tallest = chart.bars[-1]
    plot = chart.baseline - chart.top
    assert abs(tallest.ok_height - plot * 230 / 500) < 0.1
    assert abs(tallest.throttled_height - plot * 5 / 500) < 0.1
    assert tallest.throttled_y < tallest.ok_y  # 429s stack on top
    assert chart.bars[0].ok_height == 0
