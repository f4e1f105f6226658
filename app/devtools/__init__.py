"""Development tools inside the portal: the mail catcher's page at ``/_dev/mail``. None of it exists in production."""

from __future__ import annotations

from flask import Blueprint, Flask, abort

from app.config import get_settings

bp = Blueprint("devtools", __name__, url_prefix="/_dev")


@bp.before_request
def development_only() -> None:
    """Refuse every development page in production (where the blueprint is not even registered)."""
    if get_settings().production:
        abort(404)


def init_app(app: Flask) -> None:
    """Register the development pages, except with ``PORTAL_ENV=production``."""
    if get_settings(app).production:
        return
    from app.devtools import views  # noqa: F401  (registers routes on bp)

    app.register_blueprint(bp)
