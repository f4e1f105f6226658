"""The resident's bill pages: Account Summary, bill history, one bill, consumption and bill delivery."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("bills", __name__)


def init_app(app: Flask) -> None:
    """Register the bill pages."""
    from app.bills import views  # noqa: F401  (registers routes on bp)

    app.register_blueprint(bp)
