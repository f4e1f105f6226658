"""Pooled connections that died (a database restart or failover) cost a signed-in resident nothing.

The read engine does not ping before every checkout; a read whose connection turns out dead runs again
on a fresh one. The test kills the portal's PostgreSQL connections for real with ``pg_terminate_backend``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from app import create_app, reads
from app.extensions import db
from tests.conftest import base_config, sign_in
from tests.support.fresh_database import recreate

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"portal_restart_{secrets.token_hex(4)}"
    try:
        recreate(ADMIN_URL, name)
    except psycopg.Error as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def kill_connections(database: str) -> int:
    """Terminate every connection to ``database`` from outside, as a server restart would."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def test_signed_in_pages_survive_dead_connections(database_url: str, oidc_server: str) -> None:
    app = create_app(base_config(database_url, oidc_server))
    with app.app_context():
        db.create_all()
    client = app.test_client()
    try:
        sign_in(client, oidc_server, "pat")
        assert client.get("/account").status_code == 200
        assert kill_connections(database_url.rsplit("/", 1)[1]) > 0
        for path in ("/", "/account", "/help"):
            response = client.get(path)
            assert response.status_code == 200, path  # still signed in: not sent to sign in, never a 500
            assert "Sign out" in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        reads.dispose(app)
