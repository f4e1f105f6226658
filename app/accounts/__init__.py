"""Linking utility-billing accounts to a resident, and Account Settings."""

from __future__ import annotations

from flask import Blueprint, Flask

from app.core.config import get_settings

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    """Register Account Settings and the linking pages; keep the linking rules in ``app.extensions["link_rules"]``."""
    from app.accounts import views  # noqa: F401  (registers routes on bp)
    from app.accounts.service import LinkRules

    app.extensions["link_rules"] = LinkRules.from_settings(get_settings(app))
    app.register_blueprint(bp)
