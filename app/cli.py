"""Command-line interface: thin wrappers grouped by domain (``flask billing|idp|payments``; ``flask dev``: app.dev)."""

from __future__ import annotations

from flask import Flask

from app.billing.cli import billing_cli
from app.idp.cli import idp_cli
from app.payments.cli import payments_cli


def register_cli(app: Flask) -> None:
    """Attach every command group to ``app``."""
    app.cli.add_command(billing_cli)
    app.cli.add_command(idp_cli)
    app.cli.add_command(payments_cli)
