"""API client pages for supplier and partner admins: create, rotate secrets, revoke."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts import mfa
from app.accounts.access import require_role
from app.db import db, refusable, utcnow
from app.oauth import services, settings
from app.oauth.forms import AUTH_METHOD_LABELS, ConfirmForm, NewClientForm, RotateSecretForm
from app.oauth.models import ApiClient, ClientSecret
from app.oauth.scopes import canonical
from app.orgs.roles import Role

bp = Blueprint("api_clients", __name__, url_prefix="/api-clients")
ADMINS = (Role.SUPPLIER_ADMIN, Role.PARTNER_ADMIN)


def _own_client(client_pk: int) -> ApiClient:
    """Another organization's client answers 404, like a missing one."""
    client = db.session.scalar(
        select(ApiClient).where(
            ApiClient.id == client_pk,
            ApiClient.organization_id == current_user.organization.id,
        )
    )
    if client is None:
        abort(404, "No such API client.")
    return client


def _token_endpoint() -> str:
    """As published in the metadata, which is what programs should be configured with."""
    return settings.issuer() + "/oauth/token"


def _show_secret(client: ApiClient, secret: str | None, headline: str):
    """The one page that ever shows a secret; never cached, never stored in the session."""
    page = render_template(
        "oauth/secret.html",
        client=client,
        secret=secret,
        headline=headline,
        token_endpoint=_token_endpoint(),
    )
    return page, 200, {"Cache-Control": "no-store"}


@bp.get("")
@require_role(*ADMINS)
def list_clients():
    org = current_user.organization
    clients = db.session.scalars(
        select(ApiClient)
        .where(ApiClient.organization_id == org.id)
        .order_by(ApiClient.revoked_at.is_not(None), ApiClient.created_at.desc())
    ).all()
    return render_template(
        "oauth/clients.html",
        org=org,
        clients=clients,
        labels=AUTH_METHOD_LABELS,
        token_endpoint=_token_endpoint(),
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(*ADMINS)
@mfa.require_recent_mfa
def new_client():
    """A new client hands out a secret (or trusts a key): it needs a fresh second factor."""
    org = current_user.organization
    approved = canonical(org.approved_scopes or [])
    form = NewClientForm()
    form.set_scope_choices(approved)
    if form.validate_on_submit():
        try:
            with refusable():
                client, secret = services.create_client(
                    org,
                    form.name.data,
                    form.scopes.data,
                    auth_method=form.auth_method.data,
                    jwks=form.jwks_data(),
                    jwks_uri=form.jwks_uri.data or None,
                    actor=current_user,
                )
        except services.ClientError as exc:
            flash(str(exc), "error")
        else:
            return _show_secret(client, secret, "API client created")
    return render_template("oauth/new_client.html", form=form, org=org, approved=approved)


@bp.get("/<int:client_pk>")
@require_role(*ADMINS)
def show_client(client_pk: int):
    client = _own_client(client_pk)
    return render_template(
        "oauth/client.html",
        client=client,
        now=utcnow(),
        labels=AUTH_METHOD_LABELS,
        rotate_form=RotateSecretForm(),
        confirm_form=ConfirmForm(),
    )


@bp.post("/<int:client_pk>/rotate")
@require_role(*ADMINS)
def rotate_secret(client_pk: int):
    client = _own_client(client_pk)
    if not mfa.has_recent_mfa():
        # Like require_recent_mfa, but back to the client's page: the POST is not replayed.
        flash("Confirm it is you with your authenticator app, then rotate again.", "info")
        back = url_for(".show_client", client_pk=client.id)
        endpoint = "mfa.step_up" if mfa.is_enrolled(current_user) else "mfa.setup"
        return redirect(url_for(endpoint, next=back))
    form = RotateSecretForm()
    if not form.validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for(".show_client", client_pk=client.id))
    try:
        with refusable():
            secret = services.rotate_secret(
                client, dt.timedelta(days=int(form.old_secret_days.data)), actor=current_user
            )
    except services.ClientError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".show_client", client_pk=client.id))
    return _show_secret(client, secret, "New secret")


@bp.post("/<int:client_pk>/secrets/<int:secret_pk>/expire")
@require_role(*ADMINS)
def expire_secret(client_pk: int, secret_pk: int):
    client = _own_client(client_pk)
    secret = db.session.get(ClientSecret, secret_pk)
    if secret is None or secret.api_client_id != client.id:
        abort(404, "No such secret.")
    if ConfirmForm().validate_on_submit():
        try:
            with refusable():
                services.expire_secret(client, secret, actor=current_user)
            flash(f"The secret ending in {secret.hint} no longer works.", "success")
        except services.ClientError as exc:
            flash(str(exc), "error")
    return redirect(url_for(".show_client", client_pk=client.id))


@bp.post("/<int:client_pk>/revoke")
@require_role(*ADMINS)
def revoke_client(client_pk: int):
    client = _own_client(client_pk)
    if ConfirmForm().validate_on_submit():
        services.revoke_client(client, actor=current_user)
        flash(f"{client.name} is revoked; its tokens are refused from now on.", "success")
    return redirect(url_for(".show_client", client_pk=client.id))
