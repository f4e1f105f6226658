"""End a request's own PostgreSQL connection at a chosen point, for real, inside a portal under gunicorn.

``terminations.conf.py`` (a gunicorn configuration: the repo's settings plus a ``post_worker_init`` hook)
installs :func:`install` in each worker. A request that carries ``X-Test-Terminate: <point>`` then has the
backend of its connection ended with ``pg_terminate_backend`` (waiting until it is gone) the first time it
reaches that point: just before a statement whose SQL starts with ``<point>`` (``INSERT INTO account_link``,
``UPDATE portal_session``), or just before a ``COMMIT`` or ``ROLLBACK`` of the main (not the read) engine.
Once per request: a request the portal dispatches again carries on unharmed, as after a real restart.
"""

from __future__ import annotations

import sys
from typing import Any

import psycopg
from flask import Flask, has_request_context, request
from sqlalchemy import event

from tests.support.fresh_database import ADMIN_URL

HEADER = "X-Test-Terminate"
#: What the server's log says each time a backend was ended.
MARK = "tests: terminated backend"
_DONE = "tests.terminated"


def _end_backend(conn: Any, point: str) -> None:
    if not has_request_context() or request.environ.get(_DONE):
        return
    wanted = request.headers.get(HEADER, "").upper()
    if not wanted or not point.upper().startswith(wanted):
        return
    request.environ[_DONE] = True  # the environ outlives a second dispatch of the same request
    pid = conn.connection.dbapi_connection.info.backend_pid
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        [(ended,)] = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchall()
    assert ended, f"backend {pid} did not end"
    print(f"{MARK} {pid} before {point[:40]!r}", file=sys.stderr, flush=True)  # into the server's log


def install(app: Flask) -> None:
    """Listen on the app's engines (the request's and the read engine) for the requested point."""
    from app.database import reads
    from app.database.db import db

    with app.app_context():
        main, read = db.engine, reads.read_engine()
    for engine in {main, read}:
        event.listen(engine, "before_cursor_execute", lambda conn, _c, sql, *_: _end_backend(conn, sql.lstrip()))
    # The read engine's connections are in autocommit: its COMMIT and ROLLBACK send nothing to the server.
    event.listen(main, "commit", lambda conn: _end_backend(conn, "COMMIT"))
    event.listen(main, "rollback", lambda conn: _end_backend(conn, "ROLLBACK"))
