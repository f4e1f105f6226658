"""Security headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, g, request
from werkzeug.wrappers import Response

from app.core.config import get_settings


def init_headers(app: Flask) -> None:
    """Set CSP (no inline script or style), framing, sniffing, referrer and HSTS headers."""
    issuer = urlsplit(get_settings(app).oidc_issuer or "")
    provider_origin = f"{issuer.scheme}://{issuer.netloc}"
    # Chrome applies form-action to the redirects after a POST: sign-out redirects to the provider, and a
    # payment form to the processor's hosted page (features register such origins in
    # app.extensions["form_action_origins"] before this runs).
    extra_origins = " ".join(o for o in app.extensions.get("form_action_origins", []) if o)
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {provider_origin} {extra_origins}",
            "frame-ancestors 'none'",
        ]
    )

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", csp)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if g.get("resident") is not None and not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response
