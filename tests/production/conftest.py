"""Fixtures of the production tests: a PostgreSQL database of the test's own."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.fresh_database import ADMIN_URL, drop, recreate


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; without PostgreSQL the test fails in CI."""
    name = f"portal_prod_{secrets.token_hex(4)}"
    try:
        recreate(ADMIN_URL, name)
    except psycopg.Error as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    drop(ADMIN_URL, name)
