"""Help page and health endpoints."""

from __future__ import annotations

import logging

from flask import abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.auth import oidc_client
from app.auth.errors import OidcError
from app.auth.security import is_safe_next
from app.core.config import get_settings
from app.database.db import db
from app.main import bp
from app.web.cookies import cookie_policy
from app.web.languages import LANGUAGE_COOKIE

log = logging.getLogger(__name__)


@bp.get("/help")
def help_page() -> ResponseReturnValue:
    """Help with signing in: activation email, spam folder, lockout, whom to call."""
    return render_template("main/help.html")


@bp.get("/language/<code>")
def choose_language(code: str) -> ResponseReturnValue:
    """Remember a language choice in a cookie and go back to the page the visitor was on."""
    if code not in get_settings().babel_supported_locales:
        abort(404)
    target = request.args.get("next")
    response = redirect(target if target and is_safe_next(target) else url_for("home.index"))
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, **cookie_policy().flags())
    return response


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers. Touches nothing else."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: the database answers and the provider's discovery document can be fetched.

    Anyone can call this, so the provider is asked at most once per ``OIDC_REFETCH_INTERVAL``.
    """
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
        oidc_client().provider.check_ready()
        checks["provider"] = "ok"
    except OidcError as exc:
        log.warning("readiness: provider down: %s", exc.reason)
        checks["provider"] = "down"
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = str(get_settings().oidc_provider_retry_after)
    return response
