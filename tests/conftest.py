"""Shared fixtures: a real OpenID provider over HTTP, a fresh app and database per test, sign-in helpers.

The database is SQLite (a new file per test) unless ``TEST_DATABASE_URL`` names another one, e.g.
PostgreSQL; there the schema is created once and every table is emptied after each test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from oidc_provider_mock import run_server_in_thread
from sqlalchemy import create_engine, event, text
from werkzeug.test import TestResponse

from app import create_app, reads
from app.extensions import db

CLIENT_ID = "citizen-portal"
CLIENT_SECRET = "test-client-secret"
SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[str]:
    """oidc-provider-mock on a free localhost port; yields its issuer URL."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="session")
def shared_database_url() -> Iterator[str | None]:
    """``TEST_DATABASE_URL`` (checked to answer, with a fresh schema), or None for per-test SQLite."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    from app.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the suite must fail, not skip, when the database is missing
        pytest.exit(f"TEST_DATABASE_URL={url} does not answer: {exc}", returncode=3)
    finally:
        engine.dispose()
    app = create_app(base_config(url, "http://localhost:1"))
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()
    yield url


def base_config(database_url: str, issuer: str, **overrides: Any) -> dict[str, Any]:
    """A complete test configuration."""
    config: dict[str, Any] = {
        "PORTAL_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CITY_NAME": "City of Testville",
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_app(tmp_path: Path, oidc_server: str, shared_database_url: str | None) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database; the first call creates the schema."""
    url = shared_database_url or f"sqlite:///{tmp_path / 'portal.sqlite'}"
    apps: list[Flask] = []

    def make(*, create_schema: bool = True, **overrides: Any) -> Flask:
        issuer = overrides.pop("OIDC_ISSUER", oidc_server)
        app = create_app(base_config(url, issuer, **overrides))
        if not apps and shared_database_url is None and create_schema:
            with app.app_context():
                db.create_all()
        apps.append(app)
        return app

    yield make
    if apps:
        with apps[0].app_context():
            db.session.remove()
            if shared_database_url is not None:
                with db.engine.begin() as conn:
                    for table in reversed(db.metadata.sorted_tables):
                        conn.execute(table.delete())
        for app in apps:
            with app.app_context():
                db.engine.dispose()
            reads.dispose(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A fresh portal app pointed at the mock provider."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


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
    defaults: dict[str, Any] = {
        "email": f"{sub}@example.org",
        "email_verified": True,
        "given_name": "Test",
        "family_name": sub.title(),
    }
    set_provider_user(issuer, sub, {**defaults, **claims})
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


CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form on a rendered page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str) -> str:
    """GET ``path`` and read the CSRF token from the page it renders."""
    return csrf_token_from(client.get(path).get_data(as_text=True))


@contextmanager
def count_queries(app: Flask) -> Iterator[Callable[[], int]]:
    """Count the SQL statements run on the app's engines inside the block (sessions' and reads' included)."""
    statements: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with app.app_context():
        engines = {db.engine, reads.read_engine()}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield lambda: len(statements)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)
