"""``flask billing ...`` commands: thin wrappers around the extract import, the synthetic extract and the outbox."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.billing import city_today, demo, exchange, importer
from app.billing.cache import clear_billing_cache
from app.billing.extract import ExtractError, Mapping, load_mapping
from app.core.config import get_settings
from app.database.cache import cache
from app.database.db import db

billing_cli = AppGroup("billing", help="Load and inspect utility-billing data.")


def _mapping(path: str | None) -> Mapping:
    configured = path or get_settings().billing_extract_mapping
    try:
        return load_mapping(Path(configured) if configured else None)
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from exc


def _import(path: Path, mapping: Mapping, *, quiet: bool = False, force: bool = False) -> importer.ImportResult:
    """Run the import with a progress bar on a terminal; print problems; raise on refusal."""
    bar: Any = None

    def on_start(total: int) -> None:
        nonlocal bar
        if sys.stdout.isatty() and not quiet:
            bar = click.progressbar(length=total, label="Importing", file=sys.stdout)
            bar.__enter__()

    pending = 0

    def progress(size: int) -> None:
        nonlocal pending
        pending += size
        if bar is not None and pending > 1 << 20:
            bar.update(pending)
            pending = 0

    try:
        result = importer.run_import(db.engine, path, mapping, progress=progress, on_start=on_start, force=force)
    except importer.ImportBusy:
        raise click.ClickException("another import is running; nothing was changed") from None
    except ExtractError as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if result.outcome == "refused":
        for problem in result.problems.listed:
            click.echo(str(problem), err=True)
        hidden = result.problems.count - len(result.problems.listed)
        if hidden:
            click.echo(f"... and {hidden:,} more problems", err=True)
        raise click.ClickException(f"the extract was refused ({result.problems.count:,} problems); nothing was changed")
    if result.outcome == "succeeded":
        clear_billing_cache(cache())
    return result


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in counts.items())


@billing_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--mapping", "mapping_path", help="Mapping file (default: BILLING_EXTRACT_MAPPING).")
@click.option("--timings", is_flag=True, help="Print the seconds spent in each phase before the summary.")
def import_command(path: Path, mapping_path: str | None, timings: bool) -> None:
    """Validate the extract in PATH (a folder or .zip) and swap it into the read model in one transaction."""
    result = _import(path, _mapping(mapping_path))
    if result.outcome == "unchanged":
        click.echo(f"Extract {result.checksum[:12]} is the last one imported; nothing changed.")
        return
    if timings:
        for phase, seconds in result.phases.items():
            click.echo(f"  {phase}: {seconds:.1f} s")
    click.echo(
        f"Imported {result.kind} extract {result.checksum[:12]} in {result.seconds:.1f} s: {_counts(result.counts)}."
    )


@billing_cli.command("imports")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def imports_command(limit: int) -> None:
    """List past imports, newest first: when, checksum, counts, duration and outcome."""
    runs = importer.recent_imports(db.engine, limit)
    if not runs:
        click.echo("No imports yet.")
        return
    for run in runs:
        seconds = f"{run.seconds:.1f} s" if run.seconds is not None else "-"
        counts = _counts(json.loads(run.counts or "{}")) or "-"
        click.echo(
            f"{run.started_at:%Y-%m-%d %H:%M:%S}  {run.outcome:<11} {run.kind or '-':<11} "
            f"{(run.checksum or '-')[:12]:<12}  {seconds:>9}  {counts}"
            + (f"  ({run.error_count:,} problems)" if run.error_count else "")
        )


@billing_cli.command("extract")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def extract_command(directory: Path) -> None:
    """Write the current read model as a full extract into DIRECTORY (what import reads)."""
    counts = exchange.write_extract(db.engine, directory, today=city_today())
    click.echo(f"Wrote extract to {directory}: {_counts(counts)}.")


@billing_cli.command("synth-extract")
@click.option("--accounts", type=click.IntRange(demo.MOVED_INDEX), default=demo.DEFAULT_ACCOUNTS, show_default=True)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def synth_extract_command(accounts: int, directory: Path) -> None:
    """Write a deterministic synthetic full extract (24 months per account) into DIRECTORY."""
    counts = demo.synth_extract(directory, today=city_today(), accounts=accounts)
    click.echo(
        f"Wrote synthetic extract to {directory}: {counts.accounts:,} accounts, {counts.customers:,} customers, "
        f"{counts.bills:,} bills, {counts.payments:,} payments, {counts.reads:,} meter reads."
    )


@billing_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the billing read model holds any account.")
@click.option("--accounts", type=click.IntRange(demo.MOVED_INDEX), default=demo.DEFAULT_ACCOUNTS, show_default=True)
def demo_command(if_empty: bool, accounts: int) -> None:
    """Load the deterministic demo dataset: a synthetic extract, imported like real data (links stay)."""
    if get_settings().production:
        if if_empty:  # a shared start command may call this: skipping is not a failure
            click.echo("PORTAL_ENV=production: demo data is never loaded; nothing to do.")
            return
        raise click.ClickException("demo data never goes into a production database (PORTAL_ENV=production)")
    session = db.session()
    if if_empty and demo.is_loaded(session):
        click.echo("Billing data already loaded; nothing to do.")
        return
    session.close()
    with tempfile.TemporaryDirectory(prefix="portal-demo-") as folder:
        counts = demo.synth_extract(Path(folder), today=city_today(), accounts=accounts)
        _import(Path(folder), demo.demo_mapping(), quiet=True, force=True)
    demo.seed_announcements(session, today=city_today())
    session.commit()
    clear_billing_cache(cache())
    click.echo(
        f"Loaded demo billing data: {counts.accounts} accounts, {counts.customers} customers, "
        f"{counts.bills} bills, {counts.payments} payments, {counts.reads} meter reads."
    )


@billing_cli.command("export-changes")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_changes_command(directory: Path) -> None:
    """Write the portal's changes not yet exported to a new CSV file in DIRECTORY, for the billing system."""
    try:
        result = exchange.export_changes(db.engine, directory)
    except importer.ImportBusy:
        raise click.ClickException("another export is running; nothing was written") from None
    if not result.files:
        click.echo("No changes to export.")
        return
    click.echo(f"Exported {result.changes:,} changes to {', '.join(str(directory / f) for f in result.files)}.")
