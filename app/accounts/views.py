"""The signed-in home page and Account Settings."""

from __future__ import annotations

from flask import g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from app.accounts import bp
from app.security import login_required


@bp.get("/")
def home() -> ResponseReturnValue:
    """Home: the welcome page for signed-in residents; everyone else is sent to sign in."""
    if g.resident is None:
        return redirect(url_for("auth.sign_in"))
    return render_template("home/index.html")


@bp.get("/account")
@login_required
def settings() -> ResponseReturnValue:
    """Account Settings: who is signed in, their email, the last sign-in and the linked accounts."""
    return render_template("accounts/settings.html", resident=g.resident)
