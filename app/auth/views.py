"""Sign-in page, the redirect to the provider, the callback, sign-out and the signed-out page."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import g, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from app.auth import bp, oidc_client
from app.auth.oidc import SignInError
from app.auth.service import record_sign_in, roles_from_claims
from app.config import get_settings
from app.errors import sign_in_failed
from app.extensions import db
from app.forms import EmptyForm
from app.security import is_safe_next
from app.timeutil import utcnow

log = logging.getLogger(__name__)

#: How long a sign-in started at the provider may take before its state is forgotten.
PENDING_TTL = 15 * 60
#: How many sign-ins (browser tabs) may be under way at once in one session.
PENDING_MAX = 5
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


def _next_target() -> str:
    target = request.args.get("next")
    return target if target and is_safe_next(target) else url_for("accounts.home")


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
            return sign_in_failed(SignInError(f"unknown idp {idp[:40]!r}"), _("That sign-in option is not available."))
        extra["kc_idp_hint"] = idp
    action = request.args.get("action")
    if action == "register":
        extra["prompt"] = "create"
    elif action:
        unknown = SignInError(f"unknown action {action[:40]!r}")
        return sign_in_failed(unknown, _("That sign-in option is not available."))
    extra["ui_locales"] = str(get_locale() or "en")
    reauth = request.args.get("reauth") == "1"
    if reauth:  # ASVS re-authentication before a sensitive change: the provider must ask again
        extra["prompt"] = "login"
        extra["max_age"] = str(get_settings().reauth_minutes * 60)
    try:
        pending = oidc_client().begin(_external("auth.callback"), extra)
    except SignInError as exc:
        return sign_in_failed(exc)
    now = int(time.time())
    waiting: dict[str, Any] = {
        state: entry
        for state, entry in session.get("oidc_pending", {}).items()
        if now - entry.get("at", 0) < PENDING_TTL
    }
    while len(waiting) >= PENDING_MAX:
        waiting.pop(min(waiting, key=lambda s: waiting[s]["at"]))
    waiting[pending.state] = {
        "nonce": pending.nonce,
        "verifier": pending.code_verifier,
        "next": _next_target(),
        "at": now,
        "reauth": reauth,
    }
    session["oidc_pending"] = waiting
    return redirect(pending.url)


@bp.get("/auth/callback")
def callback() -> ResponseReturnValue:
    """Finish sign-in: single-use state, RFC 9207 ``iss``, code exchange, ID token, local profile."""
    state = request.args.get("state", "")
    waiting = dict(session.get("oidc_pending", {}))
    entry = waiting.pop(state, None) if state else None
    session["oidc_pending"] = waiting
    if entry is None or int(time.time()) - entry.get("at", 0) >= PENDING_TTL:
        return sign_in_failed(
            SignInError("unknown, used or expired state"),
            _("This sign-in link has expired or was already used."),
        )
    client = oidc_client()
    try:
        client.check_response_issuer(request.args)
        error = request.args.get("error")
        if error:
            raise SignInError(f"provider answered error={error[:60]!r}")
        code = request.args.get("code")
        if not code:
            raise SignInError("callback without code")
        result = client.finish(code, entry["nonce"], entry["verifier"], _external("auth.callback"))
    except SignInError as exc:
        message = None
        if request.args.get("error") == "access_denied":
            message = _("Sign-in was cancelled.")
        return sign_in_failed(exc, message)

    auth_time = _auth_time(result.claims, reauth=bool(entry.get("reauth")))
    if auth_time is None:
        return sign_in_failed(SignInError("re-authentication requested but auth_time is too old"))
    resident = record_sign_in(db.session(), client.settings.issuer, result.claims, utcnow())
    db.session.commit()
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session["resident_id"] = resident.id
    session["provider_sid"] = result.claims.get("sid") if isinstance(result.claims.get("sid"), str) else None
    session["id_token"] = result.id_token
    session["login_at"] = int(time.time())
    session["auth_time"] = auth_time
    session["roles"] = roles_from_claims(result.claims, get_settings().oidc_roles_claim)
    log.info("resident %s signed in", resident.id)
    return redirect(entry["next"] if is_safe_next(entry.get("next")) else url_for("accounts.home"))


def _auth_time(claims: dict[str, Any], *, reauth: bool) -> int | None:
    """When the resident last entered credentials: ``auth_time`` when the provider sends it, else now.

    After a re-authentication request (``max_age``) an ``auth_time`` older than that is refused (None).
    """
    now = int(time.time())
    stamp = claims.get("auth_time")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        return now
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
    except SignInError as exc:
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
