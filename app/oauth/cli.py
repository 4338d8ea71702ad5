"""Commands for automation and support: `flask clients create|revoke`, `flask keys rotate-signing`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.db import db, unit_of_work
from app.keys_cli import keys_cli
from app.oauth import keys, scopes, services
from app.oauth.models import ApiClient, AuthMethod
from app.orgs.models import Organization

clients_cli = AppGroup("clients", help="OAuth API clients.")
CLI_ACTOR = "cli"


COMMANDS = (clients_cli,)


@clients_cli.command("create")
@click.option("--org", "org_name", required=True, help="Name of an existing organization.")
@click.option(
    "--scopes", "scope_list", required=True, help='Space-separated, e.g. "invoices:write".'
)
@click.option(
    "--auth-method",
    type=click.Choice([m.value for m in AuthMethod]),
    default=AuthMethod.CLIENT_SECRET_BASIC.value,
    show_default=True,
)
@click.option("--name", default="", help="Defaults to '<org> API client'.")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks-uri", default=None)
def create_client(
    *,
    org_name: str,
    scope_list: str,
    auth_method: str,
    name: str,
    jwks_file: Path | None,
    jwks_uri: str | None,
) -> None:
    """Create a client; prints its id and secret (shown only now) as JSON."""
    org = db.session.scalar(select(Organization).where(Organization.name == org_name))
    if org is None:
        raise click.ClickException(f"no organization named {org_name!r} (see `flask orgs list`)")
    jwks = _read_jwks(jwks_file)
    try:
        with unit_of_work():
            client, secret = services.create_client(
                org,
                name or f"{org.name} API client",
                scopes.parse(scope_list),
                auth_method=auth_method,
                jwks=jwks,
                jwks_uri=jwks_uri,
                actor_label=CLI_ACTOR,
            )
    except services.ClientError as exc:
        raise click.ClickException(str(exc)) from None
    output = {
        "client_id": client.client_id,
        "client_secret": secret,
        "auth_method": client.auth_method.value,
        "scopes": client.scopes,
        "organization": org.name,
    }
    click.echo(json.dumps(output, indent=2))


def _read_jwks(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from None


@clients_cli.command("revoke")
@click.argument("client_id")
def revoke_client(client_id: str) -> None:
    """Revoke a client; every token it holds is refused from now on."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise click.ClickException(f"no API client {client_id!r}")
    was_active = client.is_active
    with unit_of_work():
        services.revoke_client(client, actor_label=CLI_ACTOR)
    click.echo(f"revoked {client_id}" if was_active else f"{client_id} was already revoked")


@keys_cli.command("rotate-signing")
def rotate_signing() -> None:
    """New access tokens use a new key; tokens signed by the old one stay valid until expiry."""
    with unit_of_work():
        new, previous = keys.rotate(actor_label=CLI_ACTOR)
    click.echo(f"signing with {new.kid}")
    if previous is not None:
        until = previous.publish_until.isoformat() if previous.publish_until else "?"
        click.echo(f"previous key {previous.kid} stays published until {until}")
