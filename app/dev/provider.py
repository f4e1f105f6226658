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

from app.dev.ports import accepts_connections, port_taken

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
#: vendored copy (MIT licence, ``app/dev/provider_static/LICENSE.md``) keeps the pages styled offline.
CDN_STYLESHEET = "https://cdn.jsdelivr.net/npm/@picocss/pico@2/css/pico.min.css"
LOCAL_STYLESHEET = "/_portal/pico.min.css"
STYLESHEET_FILE = Path(__file__).resolve().parent / "provider_static" / "pico.min.css"
#: The portal's own icon, so the provider's pages don't ask for a missing ``/favicon.ico`` (a console error).
FAVICON = "/_portal/favicon.svg"
FAVICON_FILE = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"
#: Said on the sign-in form above the box for an identifier: what a typed one signs in as.
TYPED_USER_NOTICE = (
    '<p id="portal-typed-users"><strong>Development only.</strong> An identifier you type signs in as a new user '
    "whose email address is that identifier, <strong>not verified</strong>: the portal treats them as not "
    "activated, so they cannot link accounts. To link accounts, choose a demo user below "
    "(resident@example.org, or staff@example.org for the staff console).</p>"
)


#: Where the provider says what it is, so that ``ensure_running`` reuses only one of ours.
ABOUT = "/_portal/about"
SERVICE = "citizen-portal development OpenID provider"
REFUSES_PRODUCTION = "the embedded development provider refuses to run with PORTAL_ENV=production"


class DevProviderUnavailable(RuntimeError):
    """The development provider was asked for but cannot run here."""


def _ours_answering(issuer: str) -> bool:
    """True when a development provider of this portal serves ``issuer`` (not merely something on its port)."""
    try:
        about = requests.get(issuer + ABOUT, timeout=1)
        if not (about.ok and about.json().get("service") == SERVICE):
            return False
        response = requests.get(issuer + "/.well-known/openid-configuration", timeout=1)
        return response.ok and response.json().get("issuer") == issuer
    except (requests.RequestException, ValueError, AttributeError):  # AttributeError: JSON but not an object
        return False


def start(port: int, *, production: bool) -> werkzeug.serving.BaseWSGIServer:
    """Serve the development provider with the demo users on ``localhost:port`` in a daemon thread.

    The caller may ``shutdown()`` the returned server.
    """
    if production:
        raise DevProviderUnavailable(REFUSES_PRODUCTION)
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

    @provider.get(ABOUT)
    def about() -> dict[str, str]:
        return {"service": SERVICE}

    try:
        server = werkzeug.serving.make_server("localhost", port, provider, threaded=True)
    except (OSError, SystemExit):  # werkzeug exits when the port is taken
        raise DevProviderUnavailable(port_taken(port, "DEV_OIDC_PORT")) from None
    # A short poll: shutdown() waits up to one interval (the default 0.5 s is paid by every test that stops it).
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="dev-oidc-provider", daemon=True
    ).start()
    log.warning("development OpenID provider started at http://localhost:%s (never use it in production)", port)
    return server


def use_local_stylesheet(provider: flask.Flask) -> None:
    """Serve the provider's stylesheet from the vendored copy and the portal's icon, point its pages at them
    instead of the CDN and a missing ``/favicon.ico``, and say on its sign-in form what a typed identifier is."""

    @provider.get(LOCAL_STYLESHEET)
    def stylesheet() -> flask.Response:
        return flask.send_file(STYLESHEET_FILE, mimetype="text/css", max_age=3600)

    @provider.get(FAVICON)
    @provider.get("/favicon.ico")
    def favicon() -> flask.Response:
        return flask.send_file(FAVICON_FILE, mimetype="image/svg+xml", max_age=3600)

    @provider.after_request
    def local_links(response: flask.Response) -> flask.Response:
        if response.mimetype == "text/html" and not response.direct_passthrough:
            page = response.get_data(as_text=True)
            changed = page.replace(CDN_STYLESHEET, LOCAL_STYLESHEET).replace(
                "<!doctype html>", f'<!doctype html>\n<link rel="icon" href="{FAVICON}" type="image/svg+xml" />', 1
            )
            if 'name="sub" placeholder="sub"' in changed:
                changed = changed.replace(
                    "<h1>Authorize Client</h1>", "<h1>Authorize Client</h1>\n" + TYPED_USER_NOTICE, 1
                )
            if changed != page:
                response.set_data(changed)
        return response


def ensure_running(port: int, *, production: bool) -> bool:
    """Start the development provider on ``localhost:port`` unless one of ours already answers there.

    True when this call started it, False when it reuses the one another portal process started (the
    reloader's parent, or a second ``flask dev run``). Another program on the port is refused, naming
    ``DEV_OIDC_PORT``.
    """
    if production:
        raise DevProviderUnavailable(REFUSES_PRODUCTION)
    if _ours_answering(f"http://localhost:{port}"):
        return False
    if accepts_connections(port):
        raise DevProviderUnavailable(port_taken(port, "DEV_OIDC_PORT"))
    start(port, production=production)
    return True
