"""Webhook pages for supplier and partner admins: endpoints, secrets, tests and the delivery log."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.accounts import mfa
from app.accounts.access import require_role
from app.db import refusable, utcnow
from app.orgs.roles import Role
from app.webhooks import services
from app.webhooks.events import EVENT_TYPES
from app.webhooks.forms import ConfirmForm, EndpointForm, ReplayForm
from app.webhooks.models import WebhookEndpoint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
ADMINS = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)


def _own(endpoint_id: int) -> WebhookEndpoint:
    """Another organization's endpoint answers 404, like a missing one."""
    endpoint = services.own_endpoint(current_user.organization.id, endpoint_id)
    if endpoint is None:
        abort(404, "No such webhook endpoint.")
    return endpoint


def _back(endpoint: WebhookEndpoint) -> Response:
    return redirect(url_for(".show_endpoint", endpoint_id=endpoint.id))


def _show_secret(endpoint: WebhookEndpoint, secret: str, headline: str):
    """The one page that ever shows a secret; never cached."""
    page = render_template(
        "webhooks/secret.html",
        endpoint=endpoint,
        secret=secret,
        headline=headline,
        overlap_hours=int(services.overlap().total_seconds() // 3600),
    )
    return page, 200, {"Cache-Control": "no-store"}


@bp.get("")
@require_role(*ADMINS)
def list_endpoints():
    org = current_user.organization
    return render_template(
        "webhooks/endpoints.html", org=org, endpoints=services.endpoints_of(org.id)
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(*ADMINS)
@mfa.require_recent_mfa
def new_endpoint():
    """A new endpoint hands out a secret: it needs a fresh second factor."""
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            with refusable():
                endpoint, secret = services.create_endpoint(
                    current_user.organization,
                    form.url.data,
                    form.event_types.data,
                    description=form.description.data or "",
                    actor=current_user,
                )
        except services.WebhookError as exc:
            form.url.errors = [*form.url.errors, str(exc)]
        else:
            return _show_secret(endpoint, secret, "Webhook endpoint created")
    return render_template("webhooks/new.html", form=form)


@bp.get("/<int:endpoint_id>")
@require_role(*ADMINS)
def show_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    form = EndpointForm(obj=endpoint)
    return _endpoint_page(endpoint, form)


def _endpoint_page(endpoint: WebhookEndpoint, form: EndpointForm, status: int = 200):
    replay = ReplayForm(since=(utcnow() - dt.timedelta(days=1)).replace(tzinfo=None))
    page = render_template(
        "webhooks/endpoint.html",
        endpoint=endpoint,
        form=form,
        replay_form=replay,
        confirm_form=ConfirmForm(),
        deliveries=services.deliveries_of(endpoint),
        event_types=EVENT_TYPES,
        now=utcnow(),
    )
    return page, status


@bp.post("/<int:endpoint_id>")
@require_role(*ADMINS)
def edit_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    form = EndpointForm()
    if not form.validate_on_submit():
        return _endpoint_page(endpoint, form, 400)
    try:
        with refusable():
            services.update_endpoint(
                endpoint,
                url=form.url.data,
                event_types=form.event_types.data,
                description=form.description.data or "",
                actor=current_user,
            )
    except services.WebhookError as exc:
        form.url.errors = [*form.url.errors, str(exc)]
        return _endpoint_page(endpoint, form, 400)
    flash("Saved.", "success")
    return _back(endpoint)


def _confirmed() -> bool:
    if ConfirmForm().validate_on_submit():
        return True
    flash("The form expired; try again.", "error")
    return False


@bp.post("/<int:endpoint_id>/enable")
@require_role(*ADMINS)
def enable_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    if _confirmed():
        services.set_enabled(endpoint, True, actor=current_user)
        flash("Enabled: new events are sent to it again.", "success")
    return _back(endpoint)


@bp.post("/<int:endpoint_id>/disable")
@require_role(*ADMINS)
def disable_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    if _confirmed():
        services.set_enabled(endpoint, False, actor=current_user)
        flash("Disabled: no events are sent to it until you enable it.", "success")
    return _back(endpoint)


@bp.post("/<int:endpoint_id>/rotate")
@require_role(*ADMINS)
def rotate_secret(endpoint_id: int):
    endpoint = _own(endpoint_id)
    if not mfa.has_recent_mfa():
        flash("Confirm it is you with your authenticator app, then rotate again.", "info")
        back = url_for(".show_endpoint", endpoint_id=endpoint.id)
        step = "mfa.step_up" if mfa.is_enrolled(current_user) else "mfa.setup"
        return redirect(url_for(step, next=back))
    if not _confirmed():
        return _back(endpoint)
    secret = services.rotate_secret(endpoint, actor=current_user)
    return _show_secret(endpoint, secret, "New signing secret")


@bp.post("/<int:endpoint_id>/ping")
@require_role(*ADMINS)
def ping_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    if _confirmed():
        try:
            with refusable():
                services.ping(endpoint, actor=current_user)
            flash("A test message is on its way; it appears in the log below.", "success")
        except services.WebhookError as exc:
            flash(str(exc), "error")
    return _back(endpoint)


@bp.post("/<int:endpoint_id>/delete")
@require_role(*ADMINS)
def delete_endpoint(endpoint_id: int):
    endpoint = _own(endpoint_id)
    if not _confirmed():
        return _back(endpoint)
    services.delete_endpoint(endpoint, actor=current_user)
    flash("The endpoint is deleted.", "success")
    return redirect(url_for(".list_endpoints"))


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@require_role(*ADMINS)
def redeliver(endpoint_id: int, delivery_id: int):
    endpoint = _own(endpoint_id)
    delivery = services.own_delivery(endpoint, delivery_id)
    if delivery is None:
        abort(404, "No such delivery.")
    if _confirmed():
        try:
            with refusable():
                services.redeliver(delivery, actor=current_user)
            flash(f"Message {delivery.message_id} is sent again.", "success")
        except services.AlreadyQueuedError as exc:
            flash(str(exc), "info")
        except services.WebhookError as exc:
            flash(str(exc), "error")
    return _back(endpoint)


@bp.post("/<int:endpoint_id>/replay")
@require_role(*ADMINS)
def replay_failed(endpoint_id: int):
    endpoint = _own(endpoint_id)
    form = ReplayForm()
    if not form.validate_on_submit():
        flash("Give the time from which to replay failed messages.", "error")
        return _back(endpoint)
    try:
        with refusable():
            count = services.replay_failed(endpoint, form.since_utc(), actor=current_user)
        flash(f"{count} failed message{'s' if count != 1 else ''} sent again.", "success")
    except services.WebhookError as exc:
        flash(str(exc), "error")
    return _back(endpoint)
