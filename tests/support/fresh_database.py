"""Create an empty PostgreSQL database for a test run: ``fresh_database.py ADMIN_URL NAME``.

Fails loudly when PostgreSQL does not answer: PostgreSQL tests must fail, not skip, when it is missing.
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql

#: The maintenance database the tests create their own databases from, as a role that may create databases
#: (``make test`` sets it up and exports it; see tests/support/services.py).
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://portal_test:portal_test@127.0.0.1:5432/postgres")


def terminate_connections(admin_url: str, name: str) -> int:
    """End every connection to database ``name`` from outside, as a server restart would; return how many."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        )


def recreate(admin_url: str, name: str) -> None:
    """Drop ``name`` if it exists (ending its connections) and create it again."""
    terminate_connections(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(admin_url: str, name: str) -> None:
    """Drop database ``name``, ending its connections."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    try:
        recreate(sys.argv[1], sys.argv[2])
    except psycopg.Error as exc:
        sys.exit(f"PostgreSQL is required for the PostgreSQL test run ({sys.argv[1]}): {exc}")
    print(f"created fresh database {sys.argv[2]}")
