"""``flask idp ...`` commands for city staff."""

from __future__ import annotations

from flask.cli import AppGroup

idp_cli = AppGroup("idp", help="Render, validate, plan and apply the Keycloak realm in idp_config/.")
