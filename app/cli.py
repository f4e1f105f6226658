"""Command-line interface: thin wrappers grouped by domain (``flask billing|idp|dev ...``)."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo, run_command

from app.billing.cli import billing_cli
from app.config import get_settings
from app.idp.cli import idp_cli
from app.payments.cli import payments_cli

dev_cli = AppGroup("dev", help="Run the portal on a developer's machine.")


@dev_cli.command("run", with_appcontext=False, params=list(run_command.params))
@click.pass_context
def dev_run_command(ctx: click.Context, **options: Any) -> None:
    """Start the development OpenID provider (no OIDC_ISSUER) and payment processor, then serve as ``flask run``."""
    from app.devprovider import DevProviderUnavailable, ensure_running

    settings = get_settings(ctx.ensure_object(ScriptInfo).load_app())
    if settings.dev_oidc_enabled:
        try:
            ensure_running(settings.dev_oidc_port, production=settings.production)
        except DevProviderUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f" * Development OpenID provider: {settings.oidc_issuer}")
    if settings.payment_processor == "dev":
        from app.payments import devprocessor

        try:
            devprocessor.ensure_running(settings.dev_payments_port, production=settings.production)
        except devprocessor.DevProcessorUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f" * Development payment processor: http://localhost:{settings.dev_payments_port}")
    ctx.invoke(run_command, **options)


def register_cli(app: Flask) -> None:
    """Attach every command group to ``app``."""
    app.cli.add_command(billing_cli)
    app.cli.add_command(idp_cli)
    app.cli.add_command(dev_cli)
    app.cli.add_command(payments_cli)
