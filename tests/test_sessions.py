"""Server-side sessions: idle and absolute timeouts, the cookie's flags, no resurrection."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.auth.models import PortalSession
from app.core.clock import utcnow
from app.database.db import db
from tests.support.signin import sign_in


def _age_sessions(app: Flask, **columns: timedelta) -> None:
    with app.app_context():
        values = {name: utcnow() - delta for name, delta in columns.items()}
        db.session.execute(update(PortalSession).values(**values))
        db.session.commit()


def test_idle_session_ends(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    sign_in(client, oidc_server, "idle")
    assert client.get("/account").status_code == 200
    _age_sessions(app, last_seen_at=timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] + 5))
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert "Your session ended" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(PortalSession.resident_id.is_not(None))) == 0


def test_absolute_timeout_ends_an_active_session(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    sign_in(client, oidc_server, "busy")
    _age_sessions(app, created_at=timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"] + 5))
    assert client.get("/account").status_code == 302


def test_session_ended_elsewhere_is_not_resurrected(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    sign_in(client, oidc_server, "gone")
    with app.app_context():
        db.session.execute(PortalSession.__table__.delete())
        db.session.commit()
    assert client.get("/account").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(PortalSession.resident_id.is_not(None))) == 0


def test_secure_cookie_uses_host_prefix(make_app, oidc_server: str) -> None:
    app = make_app(PORTAL_BASE_URL="https://pay.example.gov")
    client = app.test_client()
    response = client.get("/login", base_url="https://pay.example.gov")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Domain" not in cookie
    assert "redirect_uri=https%3A%2F%2Fpay.example.gov%2Fauth%2Fcallback" in response.headers["Location"]


def test_anonymous_pages_set_no_session(client: FlaskClient) -> None:
    for path in ("/sign-in", "/help", "/healthz", "/signed-out"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path


def test_stray_callbacks_write_no_session_rows(app: Flask, client: FlaskClient) -> None:
    """Anyone can send ``GET /auth/callback``: without a pending sign-in it keeps nothing (no row, no cookie)."""
    for query in ("", "?state=forged&code=x", "?error=access_denied&state=s"):
        response = app.test_client().get(f"/auth/callback{query}")
        assert response.status_code == 400
        assert "Set-Cookie" not in response.headers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 0
