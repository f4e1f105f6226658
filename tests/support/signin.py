"""Signing test clients in: through the real redirect flow, or directly for tests of the pages behind it.

The redirect flow (``sign_in``, ``login_as``) is what ``tests/auth`` and the browser tests prove. Page tests
only need a signed-in resident, so ``signed_in_as`` records the sign-in as the callback does (the app's own
``record_sign_in``) and lets the app's session interface write the session row and name its cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.auth import oidc_client
from app.auth.service import record_sign_in, roles_from_claims
from app.auth.sessions import DatabaseSessionInterface, ServerSession
from app.core.clock import utcnow
from app.core.config import get_settings
from app.database.db import db


def default_claims(sub: str) -> dict[str, Any]:
    """The claims a test user has unless the test says otherwise."""
    return {
        "email": f"{sub}@example.org",
        "email_verified": True,
        "given_name": "Test",
        "family_name": sub.title(),
    }


def set_provider_user(issuer: str, sub: str, claims: dict[str, Any]) -> None:
    """Store a user's claims at the mock provider (``PUT /users/{sub}``)."""
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5)
    assert response.status_code == 204, response.text


def start_sign_in(client: FlaskClient, path: str = "/login") -> str:
    """GET ``path`` on the portal and return the provider authorization URL it redirects to."""
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    return response.headers["Location"]


def authorize_at_provider(authorize_url: str, sub: str) -> str:
    """Submit the mock provider's sign-in form as ``sub``; return the portal callback path+query."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def sign_in(client: FlaskClient, issuer: str, sub: str, *, path: str = "/login", **claims: Any) -> TestResponse:
    """Drive the whole redirect flow as ``sub`` and return the portal's callback response."""
    set_provider_user(issuer, sub, {**default_claims(sub), **claims})
    callback = authorize_at_provider(start_sign_in(client, path), sub)
    return client.get(callback)


@pytest.fixture
def login_as(client: FlaskClient, oidc_server: str) -> Callable[..., TestResponse]:
    """``login_as(sub, **claims)`` signs ``client`` in through the real redirect flow."""

    def login(sub: str, **claims: Any) -> TestResponse:
        response = sign_in(client, oidc_server, sub, **claims)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return login


def open_session(client: FlaskClient, sub: str, **claims: Any) -> int:
    """Sign ``client`` in as ``sub`` without the redirect flow; return the resident's id.

    The resident and the session hold what the callback stores after a sign-in with these claims (the
    provider's defaults as ``sign_in`` sets them, then ``claims``), except the ID token: there is none,
    so sign-out ends only the portal's session. Claims go in as the ID token would carry them.
    """
    app = client.application
    claims = {**default_claims(sub), **claims, "sub": sub}
    with app.app_context():
        resident = record_sign_in(db.session(), oidc_client().settings.issuer, claims, utcnow())
        db.session.commit()
        stamp = claims.get("auth_time")
        data = {
            "resident_id": resident.id,
            "provider_sid": claims.get("sid") if isinstance(claims.get("sid"), str) else None,
            "id_token": None,
            "login_at": int(time.time()),
            "auth_time": int(stamp) if isinstance(stamp, int | float) else int(time.time()),
            "roles": roles_from_claims(claims, get_settings().oidc_roles_claim),
        }
        resident_id = resident.id
    session = ServerSession(data)
    interface = app.session_interface
    assert isinstance(interface, DatabaseSessionInterface)
    with app.test_request_context():
        interface.save_session(app, session, app.response_class())
    assert session.token is not None
    client.set_cookie(interface.cookie_name(app), session.token)
    return resident_id


@pytest.fixture
def signed_in_as(client: FlaskClient) -> Callable[..., int]:
    """``signed_in_as(sub, **claims)`` signs ``client`` in directly (:func:`open_session`); returns the id."""

    def login(sub: str, **claims: Any) -> int:
        return open_session(client, sub, **claims)

    return login
