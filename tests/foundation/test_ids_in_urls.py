"""An id in a URL past what the database can hold answers 404 like a missing one (never 500),
on every route that takes an `<int:...>` id: the `int` converter itself is bounded."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from app.orgs.roles import Role
from app.routing import MAX_ID, IdConverter
from tests.conftest import login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import bearer

# 2**31 is past PostgreSQL's `integer` (the id columns), 2**63 past SQLite's; 0 is never an id.
TOO_BIG = [str(2**31), str(2**63), "9" * 40, "0"]


def test_every_integer_rule_uses_the_bounded_converter(app):
    integer_rules = 0
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                integer_rules += 1
                assert isinstance(converter, IdConverter), (rule.rule, name)
                assert (converter.min, converter.max) == (1, MAX_ID), (rule.rule, name)
    assert integer_rules > 40  # every <int:...> in app/ (grep finds 46, the mock ERP's apart)


@pytest.mark.parametrize("document_id", TOO_BIG)
def test_the_api_answers_404_for_an_id_out_of_range(client, document_id):
    auth = bearer(OrganizationFactory(supplier=True))
    response = client.get(f"/api/v1/documents/{document_id}", headers=auth)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_api_still_reads_the_largest_id_as_missing(client):
    auth = bearer(OrganizationFactory(supplier=True))
    response = client.get(f"/api/v1/documents/{MAX_ID}", headers=auth)
    assert response.status_code == 404
    assert str(MAX_ID) in response.json["detail"]  # reached the view: the query ran


@pytest.mark.parametrize("document_id", TOO_BIG)
def test_a_portal_page_answers_404_for_an_id_out_of_range(client, document_id):
    UserFactory(
        email="ap@acme.example",
        role=Role.SUPPLIER_USER,
        role__organization=OrganizationFactory(supplier=True),
    )
    login(client, "ap@acme.example", PASSWORD)
    assert client.get(f"/documents/{MAX_ID}").status_code == 404
    assert client.get(f"/documents/{document_id}").status_code == 404
    assert client.get(f"/documents/{document_id}/payload").status_code == 404


@pytest.mark.no_db
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("value", ["2147483648", "4675309483088", "0", "007"])
def test_an_id_out_of_range_is_404_for_every_method_of_a_shared_path(method, value):
    """Several rules on one path (one per method): werkzeug used to answer 405 for the others."""
    from flask import Flask
    from werkzeug.exceptions import NotFound

    from app import routing

    app = Flask(__name__)
    routing.init_app(app)
    for verb in ("GET", "PATCH", "DELETE"):
        app.add_url_rule(
            "/things/<int:thing_id>", f"thing_{verb}", lambda thing_id: "", methods=[verb]
        )
    adapter = app.url_map.bind("portal.test")
    with pytest.raises(NotFound):
        adapter.match(f"/things/{value}", method=method)
    assert adapter.match(f"/things/{MAX_ID}", method=method)[1] == {"thing_id": MAX_ID}
    assert adapter.match("/things/1", method=method)[1] == {"thing_id": 1}
