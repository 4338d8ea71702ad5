"""`flask --app app.erp.mock erp ...`: operate the mock ERP from a shell (pay, reset, faults)."""

from __future__ import annotations

import datetime as dt
import json

import click

from app.erp.mock import render, services
from app.erp.mock.app import state, unit_of_work
from app.erp.mock.rules import BusinessError
from app.erp.mock.schemas import MarkPaid


@click.group("erp")
def erp() -> None:
    """Operate the mock ERP."""


@erp.command("mark-paid")
@click.argument("invoice_id", type=int)
@click.option("--reference", required=True, help="Payment run or cheque reference.")
@click.option("--date", "paid_on", type=click.DateTime(["%Y-%m-%d"]), help="Defaults to today.")
def mark_paid(invoice_id: int, reference: str, paid_on: dt.datetime | None) -> None:
    """Mark AP invoice INVOICE_ID as paid."""
    req = MarkPaid(reference=reference, date=paid_on.date() if paid_on else None)
    with state().sessions() as session:
        try:
            with unit_of_work(session):
                payment = render.payment(services.mark_paid(session, invoice_id, req))
        except (services.NotFoundError, BusinessError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(payment))


@erp.command("reset")
def reset() -> None:
    """Drop the mock ERP's data and seed it again."""
    with state().sessions() as session, unit_of_work(session):
        services.recreate_database(session)
    click.echo("mock ERP reset to its seed")
