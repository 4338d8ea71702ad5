"""`flask --app wsgi intake sweep`: run the outbox sweeper now and arm its schedule."""

from __future__ import annotations

import click

from app.db import unit_of_work
from app.intake import sweeper


@click.command("sweep")
@click.option("--no-schedule", is_flag=True, help="Only sweep; do not arm the periodic sweep.")
def sweep_command(no_schedule: bool) -> None:
    """Resend outbox entries with no live job, then keep the periodic sweep scheduled."""
    with unit_of_work():
        report = sweeper.sweep()
    click.echo(
        f"resent {report.resent}, still queued {report.live}, "
        f"expired idempotency keys removed {report.purged_keys}"
    )
    if not no_schedule:
        job_id = sweeper.schedule_next()
        click.echo(f"next sweep scheduled as {job_id}")
