"""Friendly error pages: never a traceback, always the right status and a way back.

Generic on purpose: features render their own errors with ``render_error`` and register handlers for their
own exceptions (sign-in registers one for ``OidcError``).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Something was wrong with that request"), _("Please go back and try again.")),
        403: (_("You don't have access to this page"), _("This page is for city staff only.")),
        404: (_("Page not found"), _("We couldn't find the page you asked for. Check the address, or go back.")),
        405: (_("That doesn't work here"), _("This page can't be used that way. Please go back and try again.")),
        413: (_("That was too large"), _("Please send less and try again.")),
        429: (_("Too many attempts"), _("Please wait a few minutes and try again.")),
        500: (_("Something went wrong on our side"), _("Please try again in a few minutes.")),
        502: (
            _("We couldn't verify your sign-in"),
            _("The city's sign-in service gave an answer we couldn't accept. Please try again."),
        ),
        503: (
            _("Sign-in is temporarily unavailable"),
            _("Sign-in is temporarily unavailable, please try again in a few minutes."),
        ),
    }


def render_error(
    status: int, *, title: str | None = None, message: str | None = None, retry_url: str | None = None
) -> ResponseReturnValue:
    """Render the error page for ``status``."""
    default_title, default_message = _titles().get(status, _titles()[400 if status < 500 else 500])
    response = current_app.make_response(
        (
            render_template(
                "errors/error.html",
                status=status,
                title=title or default_title,
                message=message or default_message,
                retry_url=retry_url,
                request_id=g.get("request_id"),
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn every HTTP error and unexpected exception into the friendly page."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        log.info("CSRF check failed: %s", exc.description)
        return render_error(
            400,
            title=_("This form has expired"),
            message=_("For your security, forms expire. Please go back, reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if status == 401:
            status = 403
        response = current_app.make_response(render_error(status))
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        if status == 429 and getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
