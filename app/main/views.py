"""Help page and health endpoints."""

from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.auth import oidc_client
from app.auth.oidc import SignInError
from app.extensions import db
from app.main import bp

log = logging.getLogger(__name__)


@bp.get("/help")
def help_page() -> ResponseReturnValue:
    """Help with signing in: activation email, spam folder, lockout, whom to call."""
    return render_template("main/help.html")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers. Touches nothing else."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: the database answers and the provider's discovery document can be fetched."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        log.warning("readiness: database down: %s", type(exc).__name__)
        checks["database"] = "down"
    finally:
        db.session.rollback()
    try:
        oidc_client().metadata(force=True)
        checks["provider"] = "ok"
    except SignInError as exc:
        log.warning("readiness: provider down: %s", exc.reason)
        checks["provider"] = "down"
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = str(current_app.config["OIDC_PROVIDER_RETRY_AFTER"])
    return response
