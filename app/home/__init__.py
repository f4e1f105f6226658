"""The signed-in home page: announcements, profile and a card per linked account, cached as fragments."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("home", __name__)


def init_app(app: Flask) -> None:
    """Register the home page."""
    from app.home import views  # noqa: F401  (registers routes on bp)

    app.register_blueprint(bp)
