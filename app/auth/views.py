"""Sign-in page, the redirect to the provider, the callback, sign-out and the signed-out page."""

from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import g, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from app.auth import bp, oidc_client
from app.auth.errors import OidcError, ProviderUnavailable, SignInExpired
from app.auth.security import is_safe_next
from app.auth.service import record_sign_in, roles_from_claims
from app.auth.signin import CARRY_KEY, authorize_access_token, authorize_redirect
from app.core.clock import utcnow
from app.core.config import get_settings
from app.database.commits import not_repeatable
from app.database.db import db
from app.database.retry import transaction
from app.web.errors import render_error
from app.web.forms import EmptyForm

log = logging.getLogger(__name__)

SOCIAL_LABELS = {
    "google": "Google",
    "apple": "Apple",
    "microsoft": "Microsoft",
    "facebook": "Facebook",
}


def _external(endpoint: str) -> str:
    """An absolute URL of ours, on ``PORTAL_BASE_URL`` when set (the exact URI the realm registers)."""
    base = get_settings().portal_base_url
    if base:
        return base.rstrip("/") + url_for(endpoint)
    return url_for(endpoint, _external=True)


def sign_in_failed(exc: OidcError, message: str | None = None) -> ResponseReturnValue:
    """Log why the exchange with the provider failed and show a page with a "try again" link."""
    log.warning("sign-in failed (%s): %s", type(exc).__name__, exc.reason)
    if message is None and exc.status == 400:
        message = _("We couldn't complete your sign-in. Please try again.")
    response = make_response(render_error(exc.status, message=message, retry_url=url_for("auth.sign_in")))
    if isinstance(exc, ProviderUnavailable):
        response.headers["Retry-After"] = str(get_settings().oidc_provider_retry_after)
    return response


@bp.app_errorhandler(OidcError)
def provider_error(exc: OidcError) -> ResponseReturnValue:
    """An OidcError no view caught, anywhere in the app: the same friendly page."""
    return sign_in_failed(exc)


def _next_target() -> str:
    target = request.args.get("next")
    return target if target and is_safe_next(target) else url_for("home.index")


@bp.get("/sign-in")
def sign_in() -> ResponseReturnValue:
    """The sign-in page: social buttons, email sign-in, sign-up, reset and help links."""
    next_target = _next_target()
    if g.resident is not None:
        return redirect(next_target)
    settings = get_settings()
    providers = [(p, SOCIAL_LABELS[p]) for p in settings.social_providers]
    requested = request.args.get("next")
    next_arg = requested if is_safe_next(requested) else None
    reset_url = settings.oidc_password_reset_url
    if reset_url is None and not settings.dev_oidc_enabled and settings.oidc_issuer:
        reset_url = (
            settings.oidc_issuer.rstrip("/")
            + "/login-actions/reset-credentials?"
            + urlencode({"client_id": settings.oidc_client_id})
        )
    return render_template(
        "auth/sign_in.html",
        providers=providers,
        next_arg=next_arg,
        reset_url=reset_url,
        dev_provider=settings.dev_oidc_enabled,
    )


@bp.get("/login")
def login() -> ResponseReturnValue:
    """Redirect to the provider: ``?idp=`` adds ``kc_idp_hint``, ``?action=register`` asks for sign-up."""
    extra: dict[str, str] = {}
    idp = request.args.get("idp")
    if idp:
        if idp not in get_settings().social_providers:
            return sign_in_failed(OidcError(f"unknown idp {idp[:40]!r}"), _("That sign-in option is not available."))
        extra["kc_idp_hint"] = idp
    action = request.args.get("action")
    if action == "register":
        extra["prompt"] = "create"
    elif action:
        unknown = OidcError(f"unknown action {action[:40]!r}")
        return sign_in_failed(unknown, _("That sign-in option is not available."))
    extra["ui_locales"] = str(get_locale() or "en")
    reauth = request.args.get("reauth") == "1"
    if reauth:  # ASVS re-authentication before a sensitive change: the provider must ask again
        extra["prompt"] = "login"
        extra["max_age"] = str(get_settings().reauth_minutes * 60)
    carry = session.pop(CARRY_KEY, None) if reauth else None
    try:
        return authorize_redirect(
            oidc_client(),
            _external("auth.callback"),
            next_target=_next_target(),
            extra=extra,
            reauth=reauth,
            carry=carry if isinstance(carry, dict) else None,
        )
    except OidcError as exc:
        return sign_in_failed(exc)


@bp.get("/auth/callback")
def callback() -> ResponseReturnValue:
    """Finish sign-in: single-use state, RFC 9207 ``iss``, code exchange, ID token, local profile."""
    client = oidc_client()
    try:
        done = authorize_access_token(client, request.args, _external("auth.callback"))
    except SignInExpired as exc:
        return sign_in_failed(exc, _("This sign-in link has expired or was already used."))
    except OidcError as exc:
        message = None
        if request.args.get("error") == "access_denied":
            message = _("Sign-in was cancelled.")
        return sign_in_failed(exc, message)

    not_repeatable()  # the code is spent: a lost database connection repeats only the transaction below
    claims = done.result.claims
    auth_time = _auth_time(claims, reauth=done.reauth)
    if auth_time is None:
        return sign_in_failed(
            OidcError("re-authentication requested but auth_time is missing or too old"),
            _(
                "We couldn't confirm that you signed in again just now. Nothing was changed. "
                "Please try again, and sign in when you are asked to."
            ),
        )

    def record() -> int:
        resident = record_sign_in(db.session(), client.settings.issuer, claims, utcnow())
        resident_id = resident.id
        db.session.commit()
        return resident_id

    resident_id = transaction(record)
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session["resident_id"] = resident_id
    session["provider_sid"] = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    session["id_token"] = done.result.id_token
    session["login_at"] = int(time.time())
    session["auth_time"] = auth_time
    session["roles"] = roles_from_claims(claims, get_settings().oidc_roles_claim)
    if done.reauth and done.carry:
        session[CARRY_KEY] = done.carry  # the page that asked for it reads it (and checks it again)
    log.info("resident %s signed in", resident_id)
    return redirect(done.next_target if is_safe_next(done.next_target) else url_for("home.index"))


def _auth_time(claims: dict[str, Any], *, reauth: bool) -> int | None:
    """When the resident last entered credentials: ``auth_time`` when the provider sends it, else now.

    After a re-authentication request (``max_age``) the provider must send it (OIDC Core 3.1.2.1), so one
    that is missing, not a number, or older than that is refused (None).
    """
    now = int(time.time())
    stamp = claims.get("auth_time")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or not math.isfinite(stamp):
        return None if reauth else now
    settings = get_settings()
    if reauth and now - stamp > settings.reauth_minutes * 60 + settings.oidc_clock_skew:
        return None
    return int(stamp)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the portal session, then the provider's (RP-Initiated Logout)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.signed_out"))
    id_token = session.get("id_token")
    was_signed_in = g.resident is not None
    session.clear()
    if not was_signed_in:
        return redirect(url_for("auth.signed_out"))
    state = secrets.token_urlsafe(24)
    try:
        url = oidc_client().end_session_url(
            id_token_hint=id_token,
            post_logout_redirect_uri=_external("auth.signed_out"),
            state=state,
        )
    except OidcError as exc:
        log.warning("provider logout skipped: %s", exc.reason)
        url = None
    if url is None:
        return redirect(url_for("auth.signed_out"))
    return _post_to_provider(url)


def _post_to_provider(url: str) -> ResponseReturnValue:
    """RP-Initiated Logout by POST (Keycloak accepts both), so the ID token never appears in a URL."""
    parts = urlsplit(url)
    response = make_response(
        render_template(
            "auth/provider_logout.html",
            endpoint=urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            fields=parse_qsl(parts.query),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signed-out")
def signed_out() -> ResponseReturnValue:
    """The "You have signed out" page."""
    return render_template("auth/signed_out.html")
