"""Flask CLI commands: `flask --app wsgi <command>`."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts import services as accounts
from app.audit import checkpoints
from app.audit.services import record, verify_chain
from app.db import db, unit_of_work
from app.orgs.models import Organization
from app.orgs.roles import Role

orgs_cli = AppGroup("orgs", help="Organizations.")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 12 characters.")
@click.option("--org", "org_name", required=True, help="Name of an existing organization.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="")
def create_user_command(email: str, password: str, org_name: str, role: str, name: str) -> None:
    """Create a user with one membership."""
    org = db.session.scalar(select(Organization).where(Organization.name == org_name))
    if org is None:
        raise click.ClickException(f"no organization named {org_name!r} (see `flask orgs list`)")
    try:
        with unit_of_work():
            user = accounts.create_user(email, password, org, Role(role), name=name)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {user.id} {user.email} ({role} at {org.name})")


@orgs_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array: id, name, kind, state.")
def list_orgs(as_json: bool) -> None:
    """List organizations."""
    orgs = db.session.scalars(select(Organization).order_by(Organization.id)).all()
    rows = [
        {"id": o.id, "name": o.name, "kind": o.kind.value, "state": o.status.value} for o in orgs
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']:>5}  {row['kind']:<9} {row['state']:<18} {row['name']}")


@audit_cli.command("verify")
def verify_audit() -> None:
    """Recompute the audit log's hash chain and check the newest signed checkpoint; exit 1 if
    any entry was altered or the log was cut short of the checkpoint."""
    from app.oauth.keys import known_public_key

    checked, breaks = verify_chain()
    for chain_break in breaks:
        click.echo(f"entry {chain_break.entry_id}: {chain_break.reason}", err=True)
    problems = checkpoints.check_newest(known_public_key)
    for problem in problems:
        click.echo(f"checkpoint {problem.checkpoint_id}: {problem.reason}", err=True)
    if breaks or problems:
        click.echo(
            f"audit chain BROKEN: {len(breaks) + len(problems)} problem(s) in {checked} entries",
            err=True,
        )
        sys.exit(1)
    newest = checkpoints.newest()
    anchored = f"; checkpoint {newest.id} at entry {newest.entry_id} holds" if newest else ""
    click.echo(f"audit chain OK: {checked} entries verified{anchored}")


@audit_cli.command("checkpoint")
def checkpoint_audit() -> None:
    """Sign the audit log's current head with the portal's signing key and keep it apart."""
    from app.oauth.keys import current_private_key

    try:
        with unit_of_work():
            key, kid = current_private_key()
            # Recorded first, so the checkpoint's own entry is under the head it signs.
            record("audit.checkpoint", actor_label="cli", details={"kid": kid})
            made = checkpoints.create(key, kid)
    except checkpoints.CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"checkpoint {made.id}: entry {made.entry_id} ({made.entry_count} entries), "
        f"head {made.head_hash[:16]}…, signed with key {made.kid}"
    )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) on the high, default and low queues."""
    from rq import Queue

    from app.jobs import QUEUE_NAMES, redis_connection

    if current_app.config["QUEUE_BACKEND"] == "fake":
        raise click.ClickException(
            "QUEUE_BACKEND=fake runs jobs inside the web process; no worker needed"
        )
    from app.documents import sweeper

    connection = redis_connection()
    # Re-arm the periodic outbox sweep, also after Redis lost its data.
    sweeper.keep_scheduled()
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    sweeper.ArmingWorker(queues, connection=connection).work(with_scheduler=True, burst=burst)


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Create demo organizations and users of every role (idempotent)."""
    from app.demo import seed_demo

    with unit_of_work():
        created = seed_demo()
    click.echo(f"demo data ready ({created} new users); sign in with any of:")
    from app.demo import DEMO_PASSWORD, demo_logins

    for email, role in demo_logins():
        click.echo(f"  {email:<40} {role:<18} password: {DEMO_PASSWORD}")


COMMANDS = (create_user_command, worker_command, seed_demo_command, orgs_cli, audit_cli)
