"""Pages for everyone: help, and the health endpoints."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("main", __name__)


def init_app(app: Flask) -> None:
    """Register the help page, the language switch and the health endpoints."""
    from app.main import views  # noqa: F401  (registers routes on bp)

    app.register_blueprint(bp)
