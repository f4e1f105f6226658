"""The embedded development OpenID provider (oidc-provider-mock), for a newcomer with no Keycloak.

It starts on first use, in a daemon thread of the portal process, and refuses production: ``check_config``
rejects ``PORTAL_ENV=production`` without a real ``OIDC_ISSUER``, and ``ensure_running`` checks again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
import werkzeug.serving

log = logging.getLogger(__name__)

_lock = threading.Lock()
_servers: dict[int, Any] = {}

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


def _answering(issuer: str) -> bool:
    try:
        response = requests.get(issuer + "/.well-known/openid-configuration", timeout=1)
        return response.ok and response.json().get("issuer") == issuer
    except (requests.RequestException, ValueError):
        return False


def ensure_running(port: int, *, production: bool) -> None:
    """Start the development provider on ``localhost:port`` unless it already answers there."""
    if production:
        raise RuntimeError("the embedded development provider refuses to run with PORTAL_ENV=production")
    with _lock:
        if port in _servers:
            return
        issuer = f"http://localhost:{port}"
        if _answering(issuer):  # another portal process on this machine already started it
            _servers[port] = None
            return
        import oidc_provider_mock

        users = [oidc_provider_mock.User(sub=u["sub"], claims=u["claims"]) for u in DEMO_USERS]
        provider = oidc_provider_mock.app(require_nonce=True, user_claims=users)
        server = werkzeug.serving.make_server("localhost", port, provider, threaded=True)
        threading.Thread(target=server.serve_forever, name="dev-oidc-provider", daemon=True).start()
        _servers[port] = server
        log.warning("development OpenID provider started at %s (never use it in production)", issuer)
