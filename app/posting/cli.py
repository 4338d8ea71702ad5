"""`flask --app wsgi posting replay ID… --reason …`, `posting sync-payments`, and
`documents reconcile` (added to the documents group, as packages add to the shared `keys`)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import unit_of_work, utcnow
from app.documents.cli import cli as documents_cli
from app.posting import payments, reconciler
from app.posting.replay import ReplayError, replay

cli = AppGroup("posting", help="Posting to the ERP: dead letters, payments.")
COMMANDS = (cli,)


@cli.command("replay")
@click.argument("document_ids", nargs=-1, type=int, required=True)
@click.option("--reason", required=True, help="Why it is replayed (kept in the audit log).")
def replay_command(document_ids: tuple[int, ...], reason: str) -> None:
    """Send DEAD invoices through posting again (the same idempotent path)."""
    try:
        with unit_of_work():
            replayed = replay(document_ids, actor="cli", reason=reason)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    skipped = sorted(set(document_ids) - set(replayed))
    click.echo(f"replayed {len(replayed)}: {replayed}")
    if skipped:
        click.echo(f"skipped (not DEAD invoices): {skipped}")


@cli.command("sync-payments")
def sync_payments_command() -> None:
    """Ask the ERP about posted invoices (and lines booked on their own) now; mark the paid
    ones PAID."""
    with unit_of_work():
        synced = payments.sync(utcnow())
    click.echo(f"{synced.invoices} invoice(s) marked paid")
    if synced.lines:
        click.echo(f"{synced.lines} disputed line(s) booked on their own marked paid")


@documents_cli.command("reconcile")
def reconcile_command() -> None:
    """Re-enqueue every document not at an end state with no live job, past its age."""
    with unit_of_work():
        run = reconciler.reconcile(trigger="cli")
        checked, requeued = run.checked, list(run.requeued)
    click.echo(f"checked {checked}, re-enqueued {len(requeued)}: {requeued}")
