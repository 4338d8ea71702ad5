"""Onboarding commands: load the exclusion list, check certificates daily, rotate keys."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.audit.services import record
from app.db import unit_of_work
from app.keys_cli import keys_cli

screening_cli = AppGroup("screening", help="The healthcare exclusion list (OIG LEIE layout).")
onboarding_cli = AppGroup("onboarding", help="Supplier and partner onboarding.")


@screening_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_exclusions(path: Path) -> None:
    """Replace the exclusion list with the CSV file at PATH (LEIE column layout)."""
    from app.onboarding.screening import ListFormatError, load_list

    try:
        with unit_of_work(), path.open(newline="", encoding="utf-8-sig") as stream:
            result = load_list(stream, path.name)
    except ListFormatError as exc:
        raise click.ClickException(f"{path.name}: {exc}") from None
    click.echo(
        f"exclusion list loaded from {path.name}: {result.loaded} entries ({result.skipped} skipped: reinstated or unnamed)"
    )


@onboarding_cli.command("check-certificates")
def check_certificates_command() -> None:
    """Warn suppliers 30 days before insurance expires; suspend those whose has expired."""
    from app.onboarding.tasks import check_certificates

    with unit_of_work():
        counts = check_certificates()
    click.echo(
        f"certificates checked: {counts['notified']} expiry notice(s), {counts['suspended']} suspension(s)"
    )


@keys_cli.command("rotate")
def rotate_keys() -> None:
    """Re-encrypt every encrypted column with the newest key (first in ENCRYPTION_KEYS)."""
    from app.onboarding.keys import rotate_all

    with unit_of_work():
        counts = rotate_all()
        record("keys.rotated", details={"values_per_table": counts})
    for table, count in counts.items():
        click.echo(f"{table}: {count} value(s) re-encrypted")
    click.echo(f"done: {sum(counts.values())} value(s) re-encrypted with the newest key")


# `keys rotate` joins the shared `keys` group when this module is imported.
COMMANDS = (screening_cli, onboarding_cli)
