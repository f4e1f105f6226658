"""Linking utility-billing accounts to a resident, and Account Settings."""

from __future__ import annotations

from flask import Blueprint, Flask

from app.core.config import get_settings

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    """Register Account Settings and the linking pages; keep the linking rules and the own-link lookup.

    ``app.extensions["link_rules"]`` holds the rules; ``app.extensions["account_links"]`` lets the bill pages
    find the resident's own link without importing this package.
    """
    from app.accounts import views  # noqa: F401  (registers routes on bp)
    from app.accounts.service import LinkRules, find_link
    from app.database.reads import read_session

    app.extensions["link_rules"] = LinkRules.from_settings(get_settings(app))
    app.extensions["account_links"] = lambda resident_id, account_no: find_link(read_session(), resident_id, account_no)
    app.register_blueprint(bp)
