"""``flask billing ...`` commands."""

from __future__ import annotations

from flask.cli import AppGroup

billing_cli = AppGroup("billing", help="Load and inspect utility-billing data.")
