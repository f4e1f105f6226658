"""The embedded development OpenID provider (oidc-provider-mock), for a newcomer with no Keycloak.

Nothing starts it as a side effect: ``flask dev run`` (what ``make run`` calls) starts it in a thread of
the portal process before serving, and the browser tests' fixture starts one of its own. It refuses
production: the start-up check rejects ``PORTAL_ENV=production`` without a real ``OIDC_ISSUER``, and
``start`` checks again. oidc-provider-mock is in the ``dev`` extra (``pip install -e '.[dev]'``), not a
runtime dependency.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import flask
import requests
import werkzeug.serving

log = logging.getLogger(__name__)

#: One-click users on the development sign-in form.
DEMO_USERS: list[dict[str, Any]] = [
    {
        "sub": "resident@example.org",
        "claims": {
            "email": "resident@example.org",
            "email_verified": True,
            "given_name": "Pat",
            "family_name": "Resident",
            "realm_access": {"roles": ["resident"]},
        },
    },
    {
        "sub": "unverified@example.org",
        "claims": {
            "email": "unverified@example.org",
            "email_verified": False,
            "given_name": "Una",
            "family_name": "Verified",
            "realm_access": {"roles": ["resident"]},
        },
    },
    {
        "sub": "staff@example.org",
        "claims": {
            "email": "staff@example.org",
            "email_verified": True,
            "given_name": "Sam",
            "family_name": "Staff",
            "realm_access": {"roles": ["resident", "staff"]},
        },
    },
]


#: The stylesheet the provider's pages load from a CDN (Pico CSS), and where it is served from instead: the
#: vendored copy (MIT licence, ``app/devprovider_static/LICENSE.md``) keeps the pages styled offline.
CDN_STYLESHEET = "https://cdn.jsdelivr.net/npm/@picocss/pico@2/css/pico.min.css"
LOCAL_STYLESHEET = "/_portal/pico.min.css"
STYLESHEET_FILE = Path(__file__).resolve().parent / "devprovider_static" / "pico.min.css"


class DevProviderUnavailable(RuntimeError):
    """The development provider was asked for but cannot run here."""


def _answering(issuer: str) -> bool:
    try:
        response = requests.get(issuer + "/.well-known/openid-configuration", timeout=1)
        return response.ok and response.json().get("issuer") == issuer
    except (requests.RequestException, ValueError):
        return False


def start(port: int, *, production: bool) -> werkzeug.serving.BaseWSGIServer:
    """Serve the development provider with the demo users on ``localhost:port`` in a daemon thread.

    The caller may ``shutdown()`` the returned server.
    """
    if production:
        raise DevProviderUnavailable("the embedded development provider refuses to run with PORTAL_ENV=production")
    try:
        import oidc_provider_mock
    except ImportError:
        raise DevProviderUnavailable(
            "the embedded development provider needs the oidc-provider-mock package, which is in the "
            "development extra: pip install -e '.[dev]' (or set OIDC_ISSUER to a real provider)"
        ) from None
    users = [oidc_provider_mock.User(sub=u["sub"], claims=u["claims"]) for u in DEMO_USERS]
    provider = oidc_provider_mock.app(require_nonce=True, user_claims=users)
    use_local_stylesheet(provider)
    try:
        server = werkzeug.serving.make_server("localhost", port, provider, threaded=True)
    except OSError as exc:
        message = f"port {port} is taken ({exc.strerror}): set DEV_OIDC_PORT to a free port"
        raise DevProviderUnavailable(message) from None
    # A short poll: shutdown() waits up to one interval (the default 0.5 s is paid by every test that stops it).
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="dev-oidc-provider", daemon=True
    ).start()
    log.warning("development OpenID provider started at http://localhost:%s (never use it in production)", port)
    return server


def use_local_stylesheet(provider: flask.Flask) -> None:
    """Serve the provider's stylesheet from the vendored copy and point its pages at it instead of the CDN."""

    @provider.get(LOCAL_STYLESHEET)
    def stylesheet() -> flask.Response:
        return flask.send_file(STYLESHEET_FILE, mimetype="text/css", max_age=3600)

    @provider.after_request
    def local_links(response: flask.Response) -> flask.Response:
        if response.mimetype == "text/html" and not response.direct_passthrough:
            page = response.get_data(as_text=True)
            if CDN_STYLESHEET in page:
                response.set_data(page.replace(CDN_STYLESHEET, LOCAL_STYLESHEET))
        return response


def ensure_running(port: int, *, production: bool) -> None:
    """Start the development provider on ``localhost:port`` unless one already answers there."""
    issuer = f"http://localhost:{port}"
    if _answering(issuer):  # another portal process on this machine (e.g. the reloader's parent) started it
        return
    start(port, production=production)
