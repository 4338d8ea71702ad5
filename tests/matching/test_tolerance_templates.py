"""Tolerance templates finance managers edit: the global template (seeded with the strict
defaults) applies to every supplier without an override; an override replaces it for its
supplier. Every change is audited with before and after; an empty field is unlimited, 0 allows
no variance, a negative number is refused at the field; clerks only look, other roles get 403."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEntry
from app.db import db
from app.documents.models import DocumentState
from app.matching import tolerance_templates as templates
from app.matching.findings import HoldCode
from app.matching.tolerances import Tolerance
from app.orgs.models import OrgStatus
from app.orgs.roles import Role
from tests.conftest import csrf_token, login
from tests.factories.accounts import PASSWORD, UserFactory
from tests.factories.orgs import OrganizationFactory
from tests.intake.helpers import document, run_jobs
from tests.matching.test_validate import holds, invoice_for, lakeside, received_po, send

__all__ = ["lakeside"]  # the fixture, used by name below

PAGE = "/finance/tolerances"
GLOBAL_LIMITS = {
    "price_percent": "0",
    "price_amount": "",
    "quantity_percent": "0",
    "received_percent": "0",
    "amount_percent": "0",
    "amount_amount": "",
    "tax_amount": "0.01",
    "total_amount": "0.01",
}


def _signed_in(client, role: Role, **kwargs):
    user = UserFactory(role=role, **kwargs)
    login(client, user.email, PASSWORD)
    return user


def _post(client, path: str, data: dict[str, str]):
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def _audit(action: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(db.session.scalars(query))


def test_the_global_template_is_seeded_with_the_strict_defaults():
    supplier = OrganizationFactory(supplier=True)
    assert templates.template_for(supplier.id) == Tolerance()
    assert templates.template_for(None) == Tolerance()
    seeded = templates.global_template()
    assert seeded is not None
    assert seeded.limits() == {
        "price_percent": 0,
        "price_amount": None,
        "quantity_percent": 0,
        "received_percent": 0,
        "amount_percent": 0,
        "amount_amount": None,
        "tax_amount": Decimal("0.01"),
        "total_amount": Decimal("0.01"),
    }


def _add_template(organization_id: int | None) -> None:
    with db.session.begin_nested():
        db.session.add(templates.ToleranceTemplate(name="t", organization_id=organization_id))
        db.session.flush()


def test_at_most_one_global_template_and_one_per_supplier():
    supplier = OrganizationFactory(supplier=True)
    with pytest.raises(IntegrityError):
        _add_template(None)  # the seeded global one is there
    _add_template(supplier.id)
    with pytest.raises(IntegrityError):
        _add_template(supplier.id)


def test_without_any_template_the_strict_default_applies():
    db.session.delete(templates.global_template())
    db.session.flush()
    assert templates.template_for(OrganizationFactory(supplier=True).id) == Tolerance()


def test_four_percent_over_the_po_price_is_held_under_the_global_template(
    client, lakeside, portal_erp
):
    order = received_po(portal_erp)
    document_id = send(client, lakeside, invoice_for(lakeside, order, "TOL-1", "1.04"))
    run_jobs()
    assert document(document_id).state is DocumentState.ON_HOLD
    assert HoldCode.PRICE in holds(document_id)


def test_a_five_percent_override_added_by_a_manager_validates_it(client, lakeside, portal_erp):
    other = OrganizationFactory(supplier=True)
    _signed_in(client, Role.FINANCE_MANAGER)
    five = {**GLOBAL_LIMITS, "price_percent": "5", "amount_percent": "5"}
    response = _post(client, f"{PAGE}/suppliers", {**five, "supplier_id": str(lakeside.id)})
    assert response.status_code == 302, response.get_data(as_text=True)

    assert templates.template_for(lakeside.id).price_percent == 5
    assert templates.template_for(other.id) == Tolerance()  # the others keep the global one
    order = received_po(portal_erp)
    document_id = send(client, lakeside, invoice_for(lakeside, order, "TOL-2", "1.04"))
    run_jobs()
    assert holds(document_id) == []
    assert document(document_id).state is DocumentState.VALIDATED


def test_the_override_wins_over_a_changed_global_template(client):
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    supplier = OrganizationFactory(supplier=True)
    templates.save_global({**_decimals(GLOBAL_LIMITS), "price_percent": Decimal(10)}, manager)
    assert templates.template_for(supplier.id).price_percent == 10
    templates.save_override(supplier, _decimals(GLOBAL_LIMITS), manager)
    assert templates.template_for(supplier.id).price_percent == 0
    templates.remove_override(supplier, manager)
    assert templates.template_for(supplier.id).price_percent == 10


def _decimals(form: dict[str, str]) -> dict[str, Decimal | None]:
    return {name: Decimal(value) if value else None for name, value in form.items()}


def test_every_change_is_audited_with_before_and_after(client):
    manager = _signed_in(client, Role.FINANCE_MANAGER)
    supplier = OrganizationFactory(supplier=True)

    saved = _post(client, f"{PAGE}/global", {**GLOBAL_LIMITS, "price_percent": "2.5"})
    assert saved.status_code == 302
    [entry] = _audit("tolerance_template.global_saved")
    assert entry.actor_user_id == manager.id
    assert entry.details["before"]["price_percent"] == "0"
    assert entry.details["after"]["price_percent"] == "2.5"
    assert entry.details["after"]["price_amount"] is None

    added = {**GLOBAL_LIMITS, "supplier_id": str(supplier.id), "quantity_percent": "3"}
    assert _post(client, f"{PAGE}/suppliers", added).status_code == 302
    changed = {**GLOBAL_LIMITS, "quantity_percent": "4"}
    assert _post(client, f"{PAGE}/suppliers/{supplier.id}", changed).status_code == 302
    first, second = _audit("tolerance_template.override_saved")
    assert first.details["before"] is None
    assert first.details["after"]["quantity_percent"] == "3"
    assert first.organization_id == supplier.id
    assert second.details["before"]["quantity_percent"] == "3"
    assert second.details["after"]["quantity_percent"] == "4"

    assert _post(client, f"{PAGE}/suppliers/{supplier.id}/remove", {}).status_code == 302
    [removed] = _audit("tolerance_template.override_removed")
    assert removed.details == {"before": second.details["after"], "after": None}
    assert templates.override_of(supplier.id) is None


def test_empty_is_unlimited_zero_is_none_and_negative_is_refused_at_the_field(client):
    _signed_in(client, Role.FINANCE_MANAGER)
    page = client.get(PAGE).get_data(as_text=True)
    assert "empty field means unlimited; 0 means no variance" in page

    refused = _post(
        client,
        f"{PAGE}/global",
        {**GLOBAL_LIMITS, "price_percent": "7", "quantity_percent": "-1", "tax_amount": "x"},
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'id="quantity_percent-error">A limit cannot be negative' in html
    assert 'id="tax_amount-error">Not a valid decimal value' in html
    assert templates.template_for(None) == Tolerance()  # nothing saved

    limits = {**GLOBAL_LIMITS, "price_percent": "", "price_amount": "0", "total_amount": ""}
    assert _post(client, f"{PAGE}/global", limits).status_code == 302
    in_force = templates.template_for(None)
    assert in_force.price_percent is None  # empty: unlimited
    assert in_force.total_amount is None
    assert in_force.price_amount == 0  # 0: no variance
    assert "unlimited" in client.get(PAGE).get_data(as_text=True)


def test_the_service_refuses_negative_limits_and_inactive_suppliers():
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    with pytest.raises(templates.ToleranceTemplateError, match="negative"):
        templates.save_global({"price_percent": Decimal(-1)}, manager)
    suspended = OrganizationFactory(supplier=True, status=OrgStatus.SUSPENDED)
    with pytest.raises(templates.ToleranceTemplateError, match="not an active supplier"):
        templates.save_override(suspended, {}, manager)


def test_a_clerk_sees_the_templates_but_cannot_edit_them(client):
    manager = UserFactory(role=Role.FINANCE_MANAGER)
    supplier = OrganizationFactory(supplier=True, name="Clerk Test Supplier")
    templates.save_override(supplier, {"price_percent": Decimal(3)}, manager)
    _signed_in(client, Role.FINANCE_CLERK)

    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Clerk Test Supplier" in html
    assert f'action="{PAGE}/global"' not in html
    assert 'href="/finance/tolerances"' in html  # the nav item
    for path in (f"{PAGE}/global", f"{PAGE}/suppliers", f"{PAGE}/suppliers/{supplier.id}/remove"):
        response = _post(client, path, {**GLOBAL_LIMITS, "supplier_id": str(supplier.id)})
        assert response.status_code == 403, path
    assert client.get(f"{PAGE}/suppliers/{supplier.id}").status_code == 403
    assert templates.override_of(supplier.id) is not None
    assert _audit("tolerance_template.global_saved") == []


def test_a_supplier_gets_403(client):
    _signed_in(client, Role.SUPPLIER_ADMIN)
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client.get("/home").get_data(as_text=True))
    response = client.post(f"{PAGE}/global", data={**GLOBAL_LIMITS, "csrf_token": token})
    assert response.status_code == 403
    assert 'href="/finance/tolerances"' not in client.get("/home").get_data(as_text=True)


def test_two_managers_adding_the_same_override_at_once_the_second_is_told(monkeypatch):
    from app.db import refusable

    manager = UserFactory(role=Role.FINANCE_MANAGER)
    supplier = OrganizationFactory(supplier=True)
    templates.save_override(supplier, {"price_percent": Decimal(1)}, manager)
    # The second one looked before the first one's row existed.
    monkeypatch.setattr(templates, "override_of", lambda *args, **kwargs: None)
    with pytest.raises(templates.ToleranceTemplateError, match="Someone else"), refusable():
        templates.save_override(supplier, {"price_percent": Decimal(2)}, manager)
    monkeypatch.undo()
    kept = templates.override_of(supplier.id)
    assert kept is not None
    assert kept.price_percent == 1
