"""Fixtures for the realm-as-code tools; the realm file and its test values are in ``tests/support/realm.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from app import create_app
from app.idp.extensions import with_extensions
from tests.idp_config.standin import StandIn, serving
from tests.support.realm import ENV, REALM_FILE


@pytest.fixture
def realm() -> dict[str, Any]:
    """A fresh copy of the realm file with the Apple extension, to break in a test."""
    return dict(json.loads(with_extensions(REALM_FILE.read_text(), ["apple"])))


@pytest.fixture
def cli_app() -> Flask:
    return create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "sqlite://",
            "OIDC_ISSUER": "http://localhost:1",
            "OIDC_CLIENT_SECRET": "s",
        }
    )


@pytest.fixture
def runner(cli_app: Flask) -> FlaskCliRunner:
    return cli_app.test_cli_runner()


@pytest.fixture
def keycloak(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The stand-in Admin REST server, with the environment pointing the commands at it."""
    with serving(StandIn()) as standin:
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("KEYCLOAK_URL", standin.base_url)
        monkeypatch.setenv("KEYCLOAK_ADMIN_CLIENT_ID", standin.admin_client_id)
        monkeypatch.setenv("KEYCLOAK_ADMIN_CLIENT_SECRET", standin.admin_client_secret)
        yield standin
