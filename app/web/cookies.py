"""The flags of every cookie the portal sets (the session and the language choice), decided in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_request_context, request

from app.core.config import get_settings


@dataclass(frozen=True)
class CookiePolicy:
    """HttpOnly, SameSite=Lax, Path=/ always; Secure when ``always_secure`` or the request came over https."""

    always_secure: bool

    def secure(self) -> bool:
        """Whether a cookie set now carries Secure."""
        return self.always_secure or (has_request_context() and request.is_secure)

    def flags(self) -> dict[str, Any]:
        """Keyword arguments for ``set_cookie`` and ``delete_cookie``."""
        return {"path": "/", "secure": self.secure(), "httponly": True, "samesite": "Lax"}


def init_app(app: Flask) -> None:
    """Decide the policy: Secure always in production, under an https ``PORTAL_BASE_URL`` or when configured."""
    settings = get_settings(app)
    policy = CookiePolicy(
        always_secure=bool(
            app.config.get("SESSION_COOKIE_SECURE")
            or (settings.portal_base_url or "").startswith("https://")
            or settings.production
        )
    )
    app.extensions["cookies"] = policy
    # The same flags for Flask's own session settings, which extensions may read.
    app.config.update(
        SESSION_COOKIE_SECURE=policy.always_secure, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax"
    )


def cookie_policy(app: Flask | None = None) -> CookiePolicy:
    """The cookie policy of ``app`` (by default the current one)."""
    found: CookiePolicy = (app or current_app).extensions["cookies"]
    return found
