"""Pooled connections that died (a database restart or failover) cost a signed-in resident nothing.

The read engine does not ping before every checkout; a read whose connection turns out dead runs again
on a fresh one. The test kills the portal's PostgreSQL connections for real with ``pg_terminate_backend``.
"""

from __future__ import annotations

from app import create_app
from app.database import reads
from app.database.db import db
from tests.support.config import base_config
from tests.support.fresh_database import ADMIN_URL, terminate_connections
from tests.support.signin import sign_in


def test_signed_in_pages_survive_dead_connections(database_url: str, oidc_server: str) -> None:
    app = create_app(base_config(database_url, oidc_server))
    with app.app_context():
        db.create_all()
    client = app.test_client()
    try:
        sign_in(client, oidc_server, "pat")
        assert client.get("/account").status_code == 200
        assert terminate_connections(ADMIN_URL, database_url.rsplit("/", 1)[1]) > 0
        for path in ("/", "/account", "/help"):
            response = client.get(path)
            assert response.status_code == 200, path  # still signed in: not sent to sign in, never a 500
            assert "Sign out" in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        reads.dispose(app)
