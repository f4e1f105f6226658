"""Fixtures of the production tests: a PostgreSQL database of the test's own, a provider, gunicorn's settings."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from tests.auth.provider import HostileProvider, running
from tests.support.config import CLOCK_START
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


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    """The hostile test provider, signing in whoever ``login_hint`` names."""
    with running(HostileProvider()) as p:
        yield p


@pytest.fixture
def gunicorn_env(database_url: str, provider: HostileProvider) -> dict[str, str]:
    """The environment of a portal under gunicorn (two workers) on this test's database and provider."""
    return {
        "PORTAL_ENV": "development",
        "CLOCK_START": CLOCK_START,
        "SECRET_KEY": "production-tests-secret-key-0123456789abcdef",
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": os.devnull,
    }
