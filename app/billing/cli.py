"""``flask billing ...`` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.billing import city_today, demo
from app.billing.cache import clear_billing_cache
from app.cache import cache
from app.config import get_settings
from app.extensions import db

billing_cli = AppGroup("billing", help="Load and inspect utility-billing data.")


@billing_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the billing read model holds any account.")
@click.option(
    "--accounts", type=click.IntRange(demo.MOVED_INDEX, 5000), default=demo.DEFAULT_ACCOUNTS, show_default=True
)
def demo_command(if_empty: bool, accounts: int) -> None:
    """Load the deterministic demo dataset, replacing the billing read model (resident links stay)."""
    if get_settings().production:
        if if_empty:  # a shared start command may call this: skipping is not a failure
            click.echo("PORTAL_ENV=production: demo data is never loaded; nothing to do.")
            return
        raise click.ClickException("demo data never goes into a production database (PORTAL_ENV=production)")
    session = db.session()
    if if_empty and demo.is_loaded(session):
        click.echo("Billing data already loaded; nothing to do.")
        return
    counts = demo.load_demo(session, today=city_today(), accounts=accounts)
    session.commit()
    clear_billing_cache(cache())
    click.echo(
        f"Loaded demo billing data: {counts.accounts} accounts, {counts.customers} customers, "
        f"{counts.bills} bills, {counts.payments} payments, {counts.reads} meter reads."
    )
