"""Who is signed in, and the decorators that guard views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from app.auth.models import Resident
from app.core.config import get_settings
from app.database.db import db

F = TypeVar("F", bound=Callable[..., Any])


def load_current_resident() -> None:
    """Put the signed-in resident (or None) and their roles on ``g`` for this request."""
    resident_id = session.get("resident_id")
    loaded = getattr(session, "resident", None)
    if loaded is not None and loaded.id == resident_id:
        g.resident = loaded  # read together with the session row
    else:
        g.resident = db.session.get(Resident, resident_id) if resident_id is not None else None
    g.roles = frozenset(session.get("roles", ())) if g.resident is not None else frozenset()


def _csrf_memo_usable() -> bool:
    from flask import current_app

    return current_app.config.get("WTF_CSRF_TIME_LIMIT") is None


def reuse_signed_csrf() -> None:
    """Hand Flask-WTF this session's already signed CSRF token, so no form or page signs it again.

    The signed value is kept in the (server-side) session next to the secret it signs. It is reused only
    while that secret is unchanged and only when tokens do not expire (``WTF_CSRF_TIME_LIMIT`` unset),
    so it validates exactly as a freshly signed one would.
    """
    memo = session.get("_csrf_signed")
    if _csrf_memo_usable() and isinstance(memo, list) and len(memo) == 2 and memo[0] == session.get("csrf_token"):
        g.csrf_token = str(memo[1])  # where Flask-WTF's generate_csrf looks first


def csrf_token() -> str:
    """Flask-WTF's CSRF token for templates, remembered in the session the first time it is signed."""
    token = generate_csrf()
    if _csrf_memo_usable() and session.get("_csrf_signed") != [session.get("csrf_token"), token]:
        session["_csrf_signed"] = [session["csrf_token"], token]
    return token


def init_security(app: Flask) -> None:
    """Load the resident before every request; templates get the per-session CSRF token."""
    app.before_request(load_current_resident)
    app.before_request(reuse_signed_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})  # runs after Flask-WTF's, so it wins


def is_safe_next(target: str | None) -> bool:
    """True only for a path on this site: no scheme, no host, no ``//`` or backslash tricks."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return False
    if target.startswith("//") or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def login_required(view: F) -> F:
    """Send anonymous visitors to the sign-in page, remembering where they were going."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("resident") is None:
            if getattr(session, "expired", False):
                flash(_("Your session ended. Please sign in again."), "warning")
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.sign_in", next=target))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def has_role(role: str) -> bool:
    """True when the signed-in resident's ID token carried ``role``."""
    return role in g.get("roles", frozenset())


def staff_required(view: F) -> F:
    """Staff pages: anonymous visitors sign in; signed-in residents without the staff role get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not has_role(get_settings().oidc_staff_role):
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
