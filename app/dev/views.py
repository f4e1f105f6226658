"""The development mail catcher's page: what the portal emailed while no ``SMTP_HOST`` was set."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from app.core.config import get_settings
from app.database.db import db
from app.mail import KEPT, catches_mail, caught_mail

bp = Blueprint("dev", __name__, url_prefix="/_dev")


@bp.before_request
def development_only() -> None:
    """Refuse every development page in production (where the blueprint is not even registered)."""
    if get_settings().production:
        abort(404)


@bp.get("/mail")
def show_mail() -> ResponseReturnValue:
    """The messages the development mail catcher keeps, newest first; each HTML part in a sandboxed frame."""
    return render_template(
        "dev/mail.html",
        messages=caught_mail(db.session()),
        catching=catches_mail(current_app.config),
        kept=KEPT,
        smtp_host=current_app.config.get("SMTP_HOST"),
    )
