"""``flask dev run``: the portal on a developer's machine, with the development provider and processor."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup, ScriptInfo, run_command
from werkzeug.serving import is_running_from_reloader

from app.core.config import get_settings
from app.dev import payments
from app.dev.ports import accepts_connections, port_taken
from app.dev.provider import DevProviderUnavailable, ensure_running

dev_cli = AppGroup("dev", help="Run the portal on a developer's machine.")


@dev_cli.command("run", with_appcontext=False, params=list(run_command.params))
@click.pass_context
def dev_run_command(ctx: click.Context, **options: Any) -> None:
    """Start the development OpenID provider (no OIDC_ISSUER) and payment processor, then serve as ``flask run``.

    A port another program holds stops it before the portal serves, naming the setting to change. One of our
    own development servers already on its port is reused: under the reloader the parent process starts them
    and the child (``WERKZEUG_RUN_MAIN``) finds them, and the portal's port, already there.
    """
    settings = get_settings(ctx.ensure_object(ScriptInfo).load_app())
    child = is_running_from_reloader()
    ports = {"PORT": int(options["port"])}
    if settings.dev_oidc_enabled:
        ports["DEV_OIDC_PORT"] = settings.dev_oidc_port
    if settings.payment_processor == "dev":
        ports["DEV_PAYMENTS_PORT"] = settings.dev_payments_port
    if not child:
        _check_ports(ports)
    notes = []
    try:
        if settings.dev_oidc_enabled:
            started = ensure_running(settings.dev_oidc_port, production=settings.production)
            notes.append(_serving("Development OpenID provider", str(settings.oidc_issuer), started))
        if settings.payment_processor == "dev":
            port = settings.dev_payments_port
            started = payments.ensure_running(port, production=settings.production)
            notes.append(_serving("Development payment processor", f"http://localhost:{port}", started))
    except (DevProviderUnavailable, payments.DevProcessorUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    if not child:  # the parent said it all
        for note in notes:
            click.echo(note)
    ctx.invoke(run_command, **options)


def _check_ports(ports: dict[str, int]) -> None:
    """Refuse two servers on one port, and the portal's port when another program holds it."""
    by_port: dict[int, list[str]] = {}
    for variable, port in ports.items():
        by_port.setdefault(port, []).append(variable)
    for port, variables in by_port.items():
        if len(variables) > 1:
            raise click.ClickException(f"{' and '.join(variables)} are both {port}: give each its own port")
    if accepts_connections(ports["PORT"]):
        raise click.ClickException(port_taken(ports["PORT"], "PORT"))


def _serving(name: str, url: str, started: bool) -> str:
    if started:
        return f" * {name}: {url}"
    return f" * {name}: {url} (already running in another portal process on this machine; this portal uses it)"
