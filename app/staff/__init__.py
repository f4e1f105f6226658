"""The staff console: residents, their links and the linking audit trail, for city staff only."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    """Register the staff console."""
    from app.staff import views  # noqa: F401

    app.register_blueprint(bp)
