"""The development mail catcher's page: what the portal emailed while no ``SMTP_HOST`` was set."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from app.devtools import bp
from app.extensions import db
from app.mail import KEPT, catches_mail, caught_mail


@bp.get("/mail")
def show_mail() -> ResponseReturnValue:
    """The messages the development mail catcher keeps, newest first; each HTML part in a sandboxed frame."""
    return render_template(
        "devtools/mail.html",
        messages=caught_mail(db.session()),
        catching=catches_mail(current_app.config),
        kept=KEPT,
        smtp_host=current_app.config.get("SMTP_HOST"),
    )
