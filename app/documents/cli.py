"""`flask --app wsgi documents sweep`: run the outbox sweeper now and arm its schedule."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import unit_of_work
from app.documents import sweeper

cli = AppGroup("documents", help="Documents: the outbox sweeper.")
COMMANDS = (cli,)


@cli.command("sweep")
@click.option("--no-schedule", is_flag=True, help="Only sweep; do not arm the periodic sweep.")
def sweep_command(no_schedule: bool) -> None:
    """Resend outbox entries with no live job, run the housekeeping, keep the sweep scheduled."""
    with unit_of_work():
        report = sweeper.sweep()
        done = sweeper.housekeeping()
    chores = "".join(f", {name.replace('_', ' ')} {count}" for name, count in done.items())
    click.echo(f"resent {report.resent}, still queued {report.live}{chores}")
    if not no_schedule:
        job_id = sweeper.schedule_next()
        click.echo(f"next sweep scheduled as {job_id}")
