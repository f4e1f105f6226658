"""Linking utility-billing accounts to a resident, the home page and Account Settings."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    """Register the home page, Account Settings and the linking pages."""
    from app.accounts import views  # noqa: F401  (registers routes on bp)

    app.register_blueprint(bp)
